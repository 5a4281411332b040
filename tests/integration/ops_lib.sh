# ops_lib.sh — helpers for the operator scenarios (3x), sourced after
# lib.sh: reading the broker's compact JSON views without a JSON tool,
# turning the metrics endpoint on, fetching from it, and headless Chromium.
# Waits are bounded safety nets only; nothing asserts on timing.

# jget JSON KEY — the first value of "KEY" in JSON (a number, true, false,
# null, or a string without its quotes). The views are compact, one line,
# with a fixed key order, and no string value they hold contains a quote.
jget() {
    printf '%s' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|[^,}]*\)" | head -n 1 |
        sed 's/^"[^"]*"://; s/^"//; s/"$//'
}

# jobj JSON FIELD VALUE — the first flat object in JSON whose "FIELD" is the
# string VALUE and that names ANDKEY:ANDVALUE too, if given as $4 (e.g.
# '"durable":"regional"'). Agent and subscription objects hold no nested
# objects, so [^{}]* spans one of them.
jobj() {
    printf '%s' "$1" | grep -o "{\"$2\":\"$3\"[^{}]*}" | grep -- "${4:-.}" | head -n 1
}

# metrics_on [TOKEN] — serves the metrics endpoint on a free loopback port
# MPORT (and sets a token when given). Call after broker_cfg.
metrics_on() {
    MPORT=$((PORT + 1))
    [ "$MPORT" -lt 65536 ] || MPORT=$((PORT - 1))
    sed -i "s|metrics = \"\";|metrics = \"127.0.0.1:$MPORT\"; metrics_token = \"${1:-}\";|" "$T/broker.cfg"
    MURL="http://127.0.0.1:$MPORT"
}

# http PATH [CURL ARGS...] — GETs MURL/PATH with curl; the body goes to
# stdout, and the status code to $T/http.code.
http() {
    p=$1
    shift
    curl -sS -o - -w '%{stderr}%{http_code}' "$@" "$MURL$p" 2>"$T/http.code"
}

# wait_snapshot KEY VALUE — waits until /status.json shows the status
# figure KEY at VALUE: the endpoint serves a snapshot the broker renders
# once a second.
wait_snapshot() {
    n=200
    while [ "$(jget "$(http /status.json || true)" "$1")" != "$2" ]; do
        n=$((n - 1))
        [ $n -gt 0 ] || fail "/status.json never showed $1=$2"
        sleep 0.05
    done
}

# chromium_run ARGS... — headless Chromium with a throwaway profile, no
# sandbox (tests may run as root), nothing fetched from the network.
chromium_run() {
    prof=$(mktemp -d "$T/chromium.XXXXXX")
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-extensions \
        --user-data-dir="$prof" "$@" 2>>"$T/chromium.log"
}

# need_cmd CMD PACKAGE — fails with a clear message when CMD is missing
# (`sh tests/deps.sh test` installs PACKAGE; `make test` runs it first).
need_cmd() {
    command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed: run sh tests/deps.sh test (Debian package $2)"
}
