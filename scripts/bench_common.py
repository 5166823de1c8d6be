"""What the bench scripts share."""


def env_file(path):
    """The KEY=value lines of an env file (comments and blank lines left out)."""
    values = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values
