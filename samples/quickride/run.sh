#!/usr/bin/env bash
# The fictional QuickRide case, end to end: raw evidence → vault → seal → scan → flows, holdings,
# leak, canaries → attribution → graph picture → drafts → seal, verify → exhibit bundle, verify-bundle.
#
# Usage:  samples/quickride/run.sh [OUT]      (default: ./quickride-run, recreated each time)
# Needs plitool on PATH (make demo's .venv/bin), openssl for the demo TSA, and Graphviz 'dot'
# for the picture. The sample files are copied first; the originals are never touched.
# The story and the ground truth: samples/quickride/generate.py and truth.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:-$PWD/quickride-run}" && cd "${1:-$PWD/quickride-run}" && pwd)"
# The Python that runs plitool (for the demo TSA and the back-dated canary issue).
py="${PLITOOL_PYTHON:-python3}"
"$py" -c 'import plitool' 2>/dev/null || { echo "run.sh: '$py' cannot import plitool (set PLITOOL_PYTHON)" >&2; exit 3; }

find "$out" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
cd "$out"
start=$SECONDS
stage_start=$SECONDS
timings=()
step() {
  if [ -n "${stage:-}" ]; then timings+=("$stage|$((SECONDS - stage_start))"); fi
  stage="$*"; stage_start=$SECONDS
  printf '\n\033[1m== %s\033[0m\n' "$*" >&2
}

step "0. A fresh copy of the sample"
mkdir sample
cp -r "$here/evidence" "$here/holdings" "$here/flows.yaml" "$here/case.toml" "$here/canary-pool.txt" \
  "$here/test-phone.txt" "$here/truth.json" sample/
s="$out/sample"

step "1. Create the case (case.toml: parties, court, facts, claims, announcement, recommendation)"
plitool init case --title "快行出行等侵害个人信息民事公益诉讼案（虚构示例）" --lang zh
export PLITOOL_CASE="$out/case"
cp "$s/case.toml" "$PLITOOL_CASE/case.toml"

step "2. Add the evidence with its custody record (ids E-0001 … E-0015, the order flows.yaml cites)"
inv="江海市人民检察院 检察官 林某"
tech="江海市人民检察院 技术组 陈某"
plitool add "$s/evidence/quickride-privacy-policy-v5.2.pdf" --tag processing,unlawful \
  --source "https://www.quickride.example/privacy (快行出行 App 内置隐私政策 V5.2)" --collected-by "$inv" \
  --collected-at 2026-10-12T09:40:00+08:00 --method "web download"
plitool add "$s/evidence/screenshot-permission-prompt.png" --tag unlawful \
  --source "test phone Pixel-TEST, QuickRide 5.2.0, first launch" --collected-by "$tech" \
  --collected-at 2026-10-12T10:03:00+08:00 --method "screen capture"
plitool add "$s/evidence/screenshot-consent-screen.png" --tag unlawful \
  --source "test phone Pixel-TEST, QuickRide 5.2.0, first launch" --collected-by "$tech" \
  --collected-at 2026-10-12T10:03:30+08:00 --method "screen capture"
plitool add "$s/evidence/capture-app-launch.har" --tag processing,unlawful \
  --source "test phone Pixel-TEST via mitmproxy 10.1.1" --collected-by "$tech" \
  --collected-at 2026-10-12T10:04:00+08:00 --method "traffic capture"
plitool add "$s/evidence/capture-login.har" --tag processing,unlawful \
  --source "test phone Pixel-TEST via mitmproxy 10.1.1" --collected-by "$tech" \
  --collected-at 2026-10-12T10:06:00+08:00 --method "traffic capture"
plitool add "$s/holdings/quickride-riders-2026-09.xlsx" --tag processing \
  --source "快行出行科技有限公司（调取，截至 2026-09-30）" --collected-by "$inv" \
  --collected-at 2026-11-02T15:00:00+08:00 --method "data request"
plitool add "$s/holdings/fastroute-waybills-2026-09.csv" --tag processing,fault \
  --source "速途快递有限公司（调取，截至 2026-09-30）" --collected-by "$inv" \
  --collected-at 2026-11-03T10:30:00+08:00 --method "data request"
plitool add "$s/holdings/huilian-cs-export-2026-08.csv" --tag causation,fault \
  --source "汇联客服外包服务有限公司 员工周某电脑（扣押）" --collected-by "江海市公安局 移送" \
  --collected-at 2026-11-05T16:20:00+08:00 --method "forensic extraction"
plitool add "$s/evidence/seized-list-gbk.csv" --tag harm,causation \
  --source "诈骗团伙成员手机（扣押）" --collected-by "江海市公安局 移送" \
  --collected-at 2026-10-20T11:00:00+08:00 --method "forensic extraction"
for n in 01 02 03; do
  plitool add "$s/evidence/statement-$n.docx" --tag harm,causation,amount \
    --source "被害人（询问）" --collected-by "$inv" --collected-at "2026-10-2${n#0}T14:00:00+08:00" --method "interview record"
done
plitool add "$s/evidence/spam-calls-2026-09-10.csv" --tag harm,causation \
  --source "通信运营商反诈平台（调取）" --collected-by "$inv" \
  --collected-at 2026-10-28T09:00:00+08:00 --method "data request"
plitool add "$s/evidence/transfer-records.csv" --tag amount,fault,causation \
  --source "员工周某及数据贩子手机（扣押）" --collected-by "江海市公安局 移送" \
  --collected-at 2026-11-05T16:40:00+08:00 --method "forensic extraction"
plitool add "$s/canary-pool.txt" --tag causation \
  --source "技术组 标记号码登记表" --collected-by "$tech" \
  --collected-at 2026-05-20T09:00:00+08:00 --method "own record"
plitool list

step "3. Seal the ledger with RFC 3161 timestamps (a throw-away local TSA: DEMO TSA — not trusted)"
"$py" "$repo/samples/demo_tsa.py" --dir "$out/demo-tsa" --info-file "$out/demo-tsa.env" >/dev/null &
tsa_pid=$!
trap 'kill "$tsa_pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -f "$out/demo-tsa.env" ] && break; sleep 0.1; done
. "$out/demo-tsa.env"
# A real case lists several independent TSAs in case.toml ([timestamps] tsa = [...]) and adds their real roots.
plitool trust add "$TSA_CA" --name "DEMO TSA — not trusted"
plitool seal --tsa "$TSA_URL"

step "4. Personal data in the evidence (court-style masks; keyed fingerprints, never raw values)"
plitool scan E-0001 E-0004 E-0005 E-0009 E-0010 E-0013 --limit 3
plitool scan E-0004 E-0005 --known-values "$s/test-phone.txt" --limit 5
# The permission-prompt screenshots are read by OCR (Tesseract, chi_sim+eng); the marked copy draws a
# box, with a masked label, around each finding (the prompt itself shows none: its words are the evidence).
if command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx chi_sim; then
  plitool scan E-0002 E-0003 --limit 5
  plitool scan E-0002 --show-boxes -o "$out/screenshot-permission-prompt.marked.png"
else
  echo "(Tesseract with its Chinese model is not installed: apt install tesseract-ocr tesseract-ocr-chi-sim; the screenshots are not read)" >&2
fi

step "5. The provenance graph (flows.yaml, plus the edges the traffic captures show)"
cp "$s/flows.yaml" "$PLITOOL_CASE/flows.yaml"
plitool graph from-har E-0004 --app quickride --known-values "$s/test-phone.txt"
plitool graph from-har E-0005 --app quickride --known-values "$s/test-phone.txt"
plitool graph check
plitool graph show

step "6. Holdings of the three companies and the seized list, as fingerprint tables"
plitool holdings add quickride E-0006 --as-of 2026-09-30
plitool holdings add fastroute E-0007 --as-of 2026-09-30
plitool holdings add cs-contractor E-0008 --as-of 2026-08-05
plitool leak add seized-list E-0009 --first-seen 2026-10-20

step "7. Canaries issued on 2026-05-20 (marker SIMs; see issue_canaries.py for why not 'canary issue' today)"
# In a live case, on the day:  plitool canary issue quickride --kind phone --count 3 --pool canary-pool.txt
"$py" "$here/issue_canaries.py" quickride --count 3 --pool "$s/canary-pool.txt" --issued 2026-05-20 >/dev/null
"$py" "$here/issue_canaries.py" fastroute --count 3 --pool "$s/canary-pool.txt" --issued 2026-05-20 >/dev/null
"$py" "$here/issue_canaries.py" cs-contractor --count 3 --pool "$s/canary-pool.txt" --issued 2026-05-20 >/dev/null
plitool canary list

step "8. Attribution: who is the probable source of the seized list, and by which path"
plitool attribute
plitool attribute --json > "$out/attribution.json"
top="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["top"] or "")' "$out/attribution.json")"
source_args=()
[ -n "$top" ] && source_args=(--source "$top" --target seized-list)

step "9. The graph picture and exports (no personal value in any of them)"
if command -v dot >/dev/null; then
  plitool graph export --format svg -o "$out/graph.svg" "${source_args[@]}"
  plitool graph export --format png -o "$out/graph.png" "${source_args[@]}"
fi
plitool graph export --format dot -o "$out/graph.dot" "${source_args[@]}"
plitool graph export --format graphml -o "$out/graph.graphml"
plitool graph export --format prov -o "$out/graph.prov.json"

step "10. Drafts: the five filings in Chinese, and the complaint in English (facts from case.toml)"
for kind in civil-pil recommendation announcement tort production-order; do
  plitool draft "$kind" -o "$out/drafts/$kind.zh.docx"
done
plitool draft civil-pil --lang en -o "$out/drafts/civil-pil.en.docx"

step "11. Seal what the analysis and the drafts added, then verify everything"
plitool seal --tsa "$TSA_URL"
plitool verify

step "12. The exhibit bundle (exhibits.pdf, report, originals, proofs), checked without the case"
plitool bundle -o "$out/bundle"
plitool verify-bundle "$out/bundle" --ca "$TSA_CA"
step ""

printf '\n\033[1mQuickRide sample finished in %ss.\033[0m\n' "$((SECONDS - start))" >&2
for t in "${timings[@]}"; do printf '  %4ss  %s\n' "${t##*|}" "${t%%|*}" >&2; done
printf '\nWhat was produced, and where:\n' >&2
printf '  %-22s %s\n' \
  "case" "$out/case  (evidence vault: ledger, store, seals, item tables)" \
  "attribution.json" "$out/attribution.json  (plitool attribute --json; top: ${top:-none})" \
  "graph picture" "$out/graph.svg, $out/graph.png  (needs Graphviz)" \
  "graph exports" "$out/graph.dot, graph.graphml, graph.prov.json" \
  "drafts" "$out/drafts/  (civil-pil, recommendation, announcement, tort, production-order: .zh.docx; civil-pil.en.docx)" \
  "bundle" "$out/bundle/  (exhibits.pdf, verification-report.pdf, evidence, ledger, proofs; verify-bundle: OK)" \
  "OCR marked copy" "$out/screenshot-permission-prompt.marked.png" \
  "ground truth" "$here/truth.json" >&2
