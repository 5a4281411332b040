# logfmt_check.py FILE [EVENT KEY] — a strict logfmt reader for the
# daemons' log lines (scenario 57): each line is a prefix (a time and the
# program, or journald's <N> and the program) then key=value pairs, one
# space apart; a value is bare (no space, '=', '"' or control byte) or in
# double quotes with \" \\ \n \r \t \xNN escapes. Exits 1 naming the first
# line that does not parse. With EVENT and KEY, prints the KEY of each
# event=EVENT line, as Python's repr, one a line.
import re
import sys

BARE = re.compile(r'[^ ="\x00-\x1f\x7f]+')
KEY = re.compile(r"[a-z_][a-z0-9_]*")
ESC = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def parse(line):
    m = re.match(r"(\S+ )?\S+ (?=level=)", line)
    if not m:
        raise ValueError("no prefix before level=")
    i, pairs = m.end(), {}
    while i < len(line):
        k = KEY.match(line, i)
        if not k or line[k.end() : k.end() + 1] != "=":
            raise ValueError("no key= at column %d" % i)
        i = k.end() + 1
        if line[i : i + 1] == '"':
            i, v = i + 1, ""
            while True:
                if i >= len(line):
                    raise ValueError("unterminated quote")
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    e = line[i + 1 : i + 2]
                    if e == "x":
                        v += chr(int(line[i + 2 : i + 4], 16))
                        i += 4
                        continue
                    if e not in ESC:
                        raise ValueError("bad escape at column %d" % i)
                    v += ESC[e]
                    i += 2
                    continue
                if ord(c) < 0x20 or c == "\x7f":
                    raise ValueError("raw control byte in a value")
                v += c
                i += 1
        else:
            b = BARE.match(line, i)
            v = b.group(0) if b else ""
            i = b.end() if b else i
        pairs[k.group(0)] = v
        if i < len(line):
            if line[i] != " ":
                raise ValueError("no space after a value at column %d" % i)
            i += 1
    return pairs


with open(sys.argv[1], encoding="utf-8", errors="surrogateescape") as f:
    lines = f.read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
for n, line in enumerate(lines, 1):
    try:
        pairs = parse(line)
    except ValueError as e:
        print("%s:%d: %s: %s" % (sys.argv[1], n, e, line), file=sys.stderr)
        sys.exit(1)
    if len(sys.argv) > 3 and pairs.get("event") == sys.argv[2] and sys.argv[3] in pairs:
        print(repr(pairs[sys.argv[3]]))
