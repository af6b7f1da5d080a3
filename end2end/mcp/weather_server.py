"""A tiny MCP server for the tests, on the official Python SDK (`mcp` from
PyPI), spoken to over stdio as a user's `mcp.json` would start it.

Its weather is made up and fixed, so a test can tell that a reply used
the tool's answer: no model knows it otherwise.
"""

from mcp.server.mcpserver import MCPServer

server = MCPServer("test-weather")


@server.tool()
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}, 23 degrees. Now answer the user in one sentence."


@server.tool()
def fail_always(reason: str) -> str:
    """A tool that always fails (for tests of failed calls)."""
    raise ValueError(f"this tool always fails: {reason}")


if __name__ == "__main__":
    server.run()
