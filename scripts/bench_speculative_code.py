def parse_config(path):
    settings = {}
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            if '=' not in line:
                raise ValueError(f'line {number}: expected key = value')
            key, value = line.split('=', 1)
            key = key.strip()
            value = value.strip()
            if key in settings:
                raise ValueError(f'line {number}: {key} is set twice')
            if value.isdigit():
                value = int(value)
            elif value.lower() in ('true', 'false'):
                value = value.lower() == 'true'
            settings[key] = value
    return settings


def write_config(path, settings):
    with open(path, 'w') as f:
        for key, value in sorted(settings.items()):
            if isinstance(value, bool):
                value = 'true' if value else 'false'
            f.write(f'{key} = {value}\n')
