"""What the bench scripts share."""


def env_file(path):
    """The KEY=value lines of an env file (comments and blank lines left out)."""
    values = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = shell_unquoted(value)
    return values


def shell_unquoted(value):
    """A value as the shell reads it: the stack scripts single-quote one that holds `&`."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("'\\''", "'")
    return value
