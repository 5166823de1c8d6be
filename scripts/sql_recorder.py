"""The statements one HTTP request really runs, as Postgres logs them, turned into a pgbench
script: the baseline of a write path is then the path's own SQL, not a copy written by hand that
drifts from the code.

`record` turns on statement logging (log_min_duration_statement = 0, reloaded), runs the
request, turns it off, and reads what the server logged meanwhile: the transaction, from its BEGIN
to its COMMIT, that holds `marker` (a value of this request, such as the learner's id) and ran as
the service's own database role. `pgbench_script` writes those statements with their parameters inlined as
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


def record(admin_url, log_path, marker, role, request, attempts=3):
    """Runs `request()` with statement logging on; returns the statements of its transaction: the
    one that holds `marker` and ran as the database role `role` (the service's own)."""
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
        roles = backend_roles(admin_url, {pid for pid, _, _ in entries})
        statements = transaction_holding(entries, marker, lambda pid: roles.get(pid) == role)
        if statements:
            return statements
        # A backend had not reloaded its settings yet when the request ran: run it again.
        time.sleep(0.2)
    raise SystemExit(f"no logged transaction of {role} holds {marker}: is {log_path} the server's log?")


def backend_roles(admin_url, pids):
    """The role each of these backends is logged in as (the services' pools keep theirs open)."""
    if not pids:
        return {}
    listed = ",".join(sorted(pids))
    out = subprocess.run(["psql", "-q", "-X", "-At", "-v", "ON_ERROR_STOP=1", admin_url, "-c",
                          f"SELECT pid, usename FROM pg_stat_activity WHERE pid IN ({listed})"],
                         check=True, capture_output=True, text=True).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


def transaction_holding(entries, marker, accepted):
    """The statements from BEGIN to COMMIT of the first transaction, run by a backend `accepted`
    takes, in which `marker` appears. Other services' consumers write the marker too (a
    learner's id, a registration's email reach notifications and analytics), in transactions
    of their own roles that may overlap the request's."""
    open_transactions = {}  # pid → statements since its BEGIN
    for pid, sql, params in entries:
        if not accepted(pid):
            continue
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
