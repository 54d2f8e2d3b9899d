#!/usr/bin/env python3
"""Builds tests/interop/RESULTS.md from the per-client, per-target JSON files of one run.

Input: --results DIR with `<client>--<target>.json` files written by cases.py / cases.mjs
(`{"client","target","sdk","cases":{name:{"status","reason","seconds"}}}`) and
`signed--clawshim-<v>.json` for the signed_handshake case. Output: a table case x target, the
versions, and one footnote per failed or n/a cell. Prints the built-in tally, then
"clawshim: N passed, M failed" over clawshim cells as the last line, and exits 1 if a clawshim cell failed.
"""

import argparse
import datetime
import json
import os
import sys

TARGETS = [("clawshim-v3", "clawshim v3"), ("builtin-v3", "built-in v3"),
           ("clawshim-v4", "clawshim v4"), ("builtin-v4", "built-in v4")]
CLIENTS = [("python", "Python"), ("node", "Node")]
CASES = ["models", "non_stream", "stream", "stream_usage", "agent_by_model", "agent_by_header",
         "session_user", "history", "system_prompt", "content_parts", "wrong_token", "broken_agent",
         "abort_stream", "parallel_streams", "passthrough", "key_session_scope",
         "frame_limit", "image_png", "responses_create", "responses_stream", "responses_image",
         "agents_sdk", "tools_chat", "tools_chat_stream", "tools_responses", "tools_codex_list",
         "tools_ask_user", "tools_choice_required", "agents_sdk_tools", "tool_steps"]
SIGNED = "signed_handshake"
LAN = "lan_client"


def load(results_dir):
    """{(client, target): doc} for every results file."""
    docs = {}
    for name in sorted(os.listdir(results_dir)):
        if name.endswith(".json"):
            with open(os.path.join(results_dir, name)) as fh:
                doc = json.load(fh)
            docs[(doc["client"], doc["target"])] = doc
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--versions", default="{}", help="JSON object: component -> version")
    ap.add_argument("--targets", default=" ".join(t for t, _ in TARGETS), help="targets that were run")
    ap.add_argument("--clients", default=" ".join(c for c, _ in CLIENTS), help="SDK clients that were run")
    ap.add_argument("--seconds", type=int, default=0)
    args = ap.parse_args()

    run_targets = set(args.targets.split())
    run_clients = set(args.clients.split()) | {"-", "lan"}
    docs = load(args.results)
    extra = sorted({n for d in docs.values() for n in d["cases"] if n not in CASES and n not in (SIGNED, LAN)})
    notes = []
    tally = {"clawshim": {"pass": 0, "fail": 0, "n/a": 0}, "builtin": {"pass": 0, "fail": 0, "n/a": 0}}

    def cell(client, target, case):
        if target not in run_targets or client not in run_clients:
            return "not run"
        doc = docs.get((client, target))
        if doc is None:
            res = {"status": "fail", "reason": "no results (the %s client crashed or timed out; see its log)" % client}
        else:
            res = doc["cases"].get(case) or {"status": "fail", "reason": "case missing from the results"}
        status = res["status"]
        tally["clawshim" if target.startswith("clawshim") else "builtin"][status] += 1
        if status == "pass":
            return "pass"
        label = dict(TARGETS)[target]
        notes.append("%s, %s, `%s`: %s" % (label, dict(CLIENTS).get(client, "no SDK"), case, res.get("reason") or "?"))
        return "%s [%d]" % ("**fail**" if status == "fail" else "n/a", len(notes))

    rows = []
    for case in CASES + extra:
        for client, client_label in CLIENTS:
            # A case beyond the common list may exist in one SDK's suite only.
            if case in extra and not any(case in d["cases"] for (c, _), d in docs.items() if c == client):
                continue
            rows.append("| `%s` | %s | %s |" % (case, client_label,
                                                 " | ".join(cell(client, t, case) for t, _ in TARGETS)))
    cells = []
    for t, _ in TARGETS:
        if t.startswith("clawshim"):
            cells.append(cell("-", t, SIGNED))
        else:
            cells.append("n/a")
    rows.append("| `%s` | - | %s |" % (SIGNED, " | ".join(cells)))
    cells = [cell("lan", t, LAN) if t.startswith("clawshim") else "n/a" for t, _ in TARGETS]
    rows.append("| `%s` | - | %s |" % (LAN, " | ".join(cells)))

    versions = json.loads(args.versions)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cs, bi = tally["clawshim"], tally["builtin"]
    out = ["# Interop results", "",
           "Written by `tests/interop/run.sh` (see `README.md` there for what each case checks).", "",
           "- date: %s, suite run time %d s" % (now, args.seconds)]
    out += ["- %s: %s" % (k, v) for k, v in versions.items()]
    out += ["- clawshim cells: %d passed, %d failed, %d n/a" % (cs["pass"], cs["fail"], cs["n/a"]),
            "- built-in cells: %d passed, %d failed, %d n/a" % (bi["pass"], bi["fail"], bi["n/a"]), "",
            "| case | SDK | %s |" % " | ".join(label for _, label in TARGETS),
            "|---|---|%s" % ("---|" * len(TARGETS))]
    out += rows
    if notes:
        out += ["", "Notes:", ""]
        out += ["%d. %s" % (i + 1, n.replace("\n", " ")) for i, n in enumerate(notes)]
    with open(args.out, "w") as fh:
        fh.write("\n".join(out) + "\n")
    # worded unlike the closing line, so that only the clawshim tally reads as the suite's result
    print("built-in endpoints (not counted): pass %d, fail %d, n/a %d" % (bi["pass"], bi["fail"], bi["n/a"]))
    print("results table: %s" % args.out)
    print("clawshim: %d passed, %d failed" % (cs["pass"], cs["fail"]))
    sys.exit(1 if cs["fail"] else 0)


if __name__ == "__main__":
    main()
