# Shared set-up for the orb's bats tests.
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PY=$ROOT/.venv/bin/python

# The command text of a run step in a packed orb: commands.<name>, the first run step.
packed_script() {
  "$PY" - "$1" "$2" >"$3" <<'PYEOF'
import sys, yaml
orb = yaml.safe_load(open(sys.argv[1]))
steps = orb["commands"][sys.argv[2]]["steps"]
print(next(s["run"]["command"] for s in steps if isinstance(s, dict) and "run" in s))
PYEOF
}

# A stub program that records its arguments, one per line, in $STUB_LOG/<name>.
stub() {
  mkdir -p "$STUBS" "$STUB_LOG"
  printf '#!/usr/bin/env bash\nprintf "%%s\\n" "$@" >"%s/%s"\n%s\n' "$STUB_LOG" "$1" "${2:-}" >"$STUBS/$1"
  chmod +x "$STUBS/$1"
}
