"""The statements one HTTP request really runs, as Postgres logs them, turned into a pgbench
script: the baseline of a write path is then the path's own SQL, not a copy written by hand that
drifts from the code.

`record` turns on statement logging (log_min_duration_statement = 0, reloaded), runs the
request, turns it off, and reads what the server logged meanwhile: the backend that ran the
transaction holding `marker` (a value only this request sends, such as the learner's id), from its
BEGIN to its COMMIT. `pgbench_script` writes those statements with their parameters inlined as
literals, some values replaced by pgbench variables (the learner of each client, fresh ids).
"""

import os
import re
import subprocess
import time

LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (LOG|DETAIL|ERROR|STATEMENT):  (.*)$")
ENTRY = re.compile(r"^duration: [\d.]+ ms  (statement|execute [^:]+): (.*)$", re.S)
PARAMETER = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


def psql(url, *commands):
    args = ["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", url]
    for command in commands:
        args += ["-c", command]
    subprocess.run(args, check=True, capture_output=True)


def parse(text):
    """(pid, sql, {n: literal}) for each statement run, in log order."""
    records = []  # [pid, kind, message]
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            records.append([match.group(1), match.group(2), match.group(3)])
        elif records and line.startswith("\t"):
            records[-1][2] += "\n" + line[1:]
    entries = []
    for index, (pid, kind, message) in enumerate(records):
        if kind != "LOG":
            continue
        entry = ENTRY.match(message)
        if not entry:
            continue
        params = {}
        following = records[index + 1] if index + 1 < len(records) else None
        if following and following[0] == pid and following[1] == "DETAIL" and following[2].startswith("parameters: "):
            params = {int(n): value for n, value in PARAMETER.findall(following[2])}
        entries.append((pid, entry.group(2).strip(), params))
    return entries


def record(admin_url, log_path, marker, request, attempts=3):
    """Runs `request()` with statement logging on; returns its transaction's statements."""
    for _ in range(attempts):
        start = os.path.getsize(log_path)
        psql(admin_url, "ALTER SYSTEM SET log_min_duration_statement = 0", "SELECT pg_reload_conf()")
        try:
            request()
        finally:
            psql(admin_url, "ALTER SYSTEM RESET log_min_duration_statement", "SELECT pg_reload_conf()")
        with open(log_path, encoding="utf-8", errors="replace") as log:
            log.seek(start)
            entries = parse(log.read())
        statements = transaction_holding(entries, marker)
        if statements:
            return statements
        # A backend had not reloaded its settings yet when the request ran: run it again.
        time.sleep(0.2)
    raise SystemExit(f"no logged transaction holds {marker}: is {log_path} the server's log?")


def transaction_holding(entries, marker):
    """The statements from BEGIN to COMMIT of the first transaction to commit in which `marker`
    appears. Other services' consumers may write the marker too (a registration's email reaches
    notifications and analytics), but only after the request's own transaction committed and its
    event was relayed, so the first to commit is the request's."""
    open_transactions = {}  # pid → statements since its BEGIN
    for pid, sql, params in entries:
        if re.match(r"^BEGIN\b", sql, re.I):
            open_transactions[pid] = [(sql, params)]
        elif pid in open_transactions:
            open_transactions[pid].append((sql, params))
            if re.match(r"^COMMIT\b", sql, re.I):
                chosen = open_transactions.pop(pid)
                if any(marker in sql or marker in "".join(params.values()) for sql, params in chosen):
                    return chosen
    return None


def inline(sql, params, variables):
    """`sql` with each $n replaced by its literal, or by a pgbench variable for values in `variables`."""
    def value(match):
        literal = params[int(match.group(1))]
        if literal != "NULL" and literal[1:-1] in variables:
            return ":" + variables[literal[1:-1]]
        return literal
    return re.sub(r"\$(\d+)", value, sql)


def pgbench_script(statements, variables, prelude="", replace=()):
    """A pgbench script of `statements`: simple-protocol scripts split into their statements,
    parameters inlined, quoted literals in `variables` (literal → variable name) replaced by the
    variable, and each (pattern, replacement) of `replace` applied (to write a table elsewhere).

    The services send BEGIN (and a learner's scope) in the same round trip as the transaction's
    first statement; the script does the same with a pgbench pipeline."""
    commands = []
    for sql, params in statements:
        sql = inline(sql, params, variables)
        for literal, name in variables.items():
            sql = sql.replace(f"'{literal}'", f":{name}")
        for pattern, replacement in replace:
            sql = re.sub(pattern, replacement, sql)
        sql = re.sub(r"'(?:[^']|'')*'", shielded, sql)
        for part in split_statements(sql):
            commands.append(" ".join(part.split()) + ";")
    head = 0
    if commands and re.match(r"^BEGIN\b", commands[0], re.I):
        head = 2 if len(commands) > 1 and "syllabus.user_id" in commands[1] else 1
        head = min(head + 1, len(commands) - 1)
    if head > 1:
        commands = ["\\startpipeline"] + commands[:head] + ["\\endpipeline"] + commands[head:]
    lines = ([prelude.strip()] if prelude.strip() else []) + commands
    return "\n".join(lines) + "\n"


def shielded(match):
    """A quoted literal pgbench will not mistake for variables: it reads `:name` even inside quotes
    (a CloudEvent's `urn:syllabus:schema:…`), so such colons are spelled chr(58)."""
    literal = match.group(0)
    if not re.search(r":[A-Za-z_]", literal):
        return literal
    return re.sub(r":(?=[A-Za-z_])", "' || chr(58) || '", literal)


def split_statements(sql):
    """The statements of a simple-protocol script (semicolons outside quotes separate them)."""
    parts, current, quoted = [], "", False
    for character in sql:
        if character == "'":
            quoted = not quoted
        if character == ";" and not quoted:
            if current.strip():
                parts.append(current.strip())
            current = ""
        else:
            current += character
    if current.strip():
        parts.append(current.strip())
    return parts
