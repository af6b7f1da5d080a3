"""A tiny MCP server for the tests, on the official Python SDK (`mcp` from
PyPI): over stdio as a user's `mcp.json` would start it, or with
`--http PORT` over Streamable HTTP (then it offers `shout` instead).

Its weather is made up and fixed, so a test can tell that a reply used
the tool's answer: no model knows it otherwise.
"""

import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("test-weather")


@server.tool()
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}, 23 degrees. Now answer the user in one sentence."


@server.tool()
def fail_always(reason: str) -> str:
    """A tool that always fails (for tests of failed calls)."""
    raise ToolError(f"this tool always fails: {reason}")


@server.tool()
def slow(seconds: float) -> str:
    """Wait a number of seconds, then say so (for tests of Stop)."""
    time.sleep(seconds)
    return f"waited {seconds} seconds"


@server.tool()
def crash() -> str:
    """Exit the server at once (for tests of a server that dies)."""
    os._exit(3)


def shout(text: str) -> str:
    """Repeat a text in capital letters."""
    return text.upper()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        http = MCPServer("test-shout")
        http.tool()(shout)
        http.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
