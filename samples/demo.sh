#!/usr/bin/env bash
# make demo: the whole pipeline, as far as it exists today, on the fictional sample case.
# Works in ./demo-case (recreated each run); the sample files themselves are never modified.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$here/demo-case"
rm -rf "$work"
mkdir -p "$work"
cd "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "1. Create the case"
plitool init case --title "示例购物App个人信息泄露公益诉讼（虚构示例）" --lang zh
export PLITOOL_CASE="$work/case"

step "2. Add the sample evidence (SHA-256 + BLAKE3 in one pass, copied into the store)"
plitool add "$here/samples/evidence/privacy-policy-2026-10.txt" --tag processing --tag unlawful \
  --source "https://shop.example.invalid/privacy" --collected-by "检察官 示例" --method "web download"
plitool add "$here/samples/evidence/screenshot-consent-screen.png" --tag unlawful \
  --source "test phone, app v5.2" --collected-by "检察官 示例" --method "screen capture"
plitool add "$here/samples/evidence/traffic-capture-app-launch.har" --tag processing --tag unlawful \
  --source "test phone via mitmproxy" --collected-by "技术调查官 示例" --method "traffic capture"
plitool add "$here/samples/evidence/泄露名单-群聊截获.csv" --tag harm --tag causation \
  --source "chat group (seized phone)" --collected-by "公安机关 移送" --collected-at "2026-10-20T09:30:00+08:00" \
  --method "forensic extraction"
plitool add "$here/samples/evidence/statement-张某.txt" --tag harm --source "victim" --collected-by "检察官 示例"
# The same screenshot handed over again: a second custody event, not a second copy.
plitool add "$here/samples/evidence/screenshot-consent-screen.png" --source "victim's copy" --collected-by "检察官 示例"

step "3. The evidence table"
plitool list

step "4. Custody history of one item"
plitool show E-0004

step "5. Verify everything (re-hash, ledger chain, Merkle checkpoints, store)"
plitool verify

step "6. Check files for standard tools, over exported working copies"
plitool manifest --format sha256sum --export-dir "$work/export" --reason "demo: independent check"
plitool manifest --format b3sum -o "$work/export/B3SUMS"
(cd "$work/export" && sha256sum -c --quiet SHA256SUMS && echo "sha256sum -c: all OK" >&2)
if command -v b3sum >/dev/null; then
  # B3SUMS lists the store's paths: check it from the case folder.
  (cd "$work/case" && b3sum -c --quiet "$work/export/B3SUMS" && echo "b3sum -c: all OK" >&2)
fi

step "7. Personal data in the evidence (court-style masks; fingerprints keyed with the case's secret key)"
plitool scan E-0001 E-0002 E-0003 E-0004 E-0005 --limit 5

step "8. Seal the ledger with RFC 3161 timestamps (here a throw-away local TSA: DEMO TSA — not trusted)"
python3 "$here/samples/demo_tsa.py" --dir "$work/demo-tsa" --info-file "$work/demo-tsa.env" >/dev/null &
tsa_pid=$!
trap 'kill "$tsa_pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -f "$work/demo-tsa.env" ] && break; sleep 0.1; done
. "$work/demo-tsa.env"
# A real case lists several TSAs in case.toml ([timestamps] tsa = [...]) and adds their real roots.
plitool trust add "$TSA_CA" --name "DEMO TSA — not trusted"
plitool seal --tsa "$TSA_URL"
plitool verify

step "9. A self-contained proof for one item, checked without the case (plitool, then standard tools)"
plitool prove E-0004 -o "$work/E-0004.proof.json"
plitool verify-proof "$work/E-0004.proof.json" --data "$here/samples/evidence/泄露名单-群聊截获.csv" --ca "$TSA_CA"
(cd "$work/E-0004.proof" && sha256sum "$here/samples/evidence/泄露名单-群聊截获.csv" && python3 check_inclusion.py \
  && openssl ts -verify -in seal-01.tsr -data checkpoint.txt -CAfile "$TSA_CA" -untrusted seal-01.chain.pem)

step "10. Provenance and attribution: who held the leaked records, and by which path they travelled"
# flows.yaml is the user's own description of the agents and the flows (see README, "Provenance graph");
# the holdings are datasets obtained in the investigation: evidence like any other (E-0006 … E-0008).
cp "$here/samples/flows.yaml" "$PLITOOL_CASE/flows.yaml"
plitool add "$here/samples/holdings/shop-app-orders-2026-09.csv" --tag processing \
  --source "示例购物科技有限公司（调取）" --collected-by "检察官 示例" --method "data request"
plitool add "$here/samples/holdings/courier-waybills-2026-09.csv" --tag processing \
  --source "示例快递有限公司（调取）" --collected-by "检察官 示例" --method "data request"
plitool add "$here/samples/holdings/cs-contractor-export-2026-08.csv" --tag causation \
  --source "示例客服外包服务有限公司 员工电脑（扣押）" --collected-by "公安机关 移送" --method "forensic extraction"
plitool graph check
plitool graph show
source_args=()
if plitool attribute --help >/dev/null 2>&1; then
  plitool holdings add shop-app E-0006 --as-of 2026-09-30
  plitool holdings add courier E-0007 --as-of 2026-09-30
  plitool holdings add cs-contractor E-0008 --as-of 2026-08-05
  plitool leak add chat-group E-0004 --first-seen 2026-10-20
  plitool attribute
  plitool attribute --json > "$work/attribution.json"
  echo "attribution as JSON: $work/attribution.json" >&2
  top="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["top"] or "")' "$work/attribution.json")"
  [ -n "$top" ] && source_args=(--source "$top" --target chat-group)
else
  echo "(this plitool has no 'holdings', 'leak' or 'attribute' commands yet: the ranking is skipped)" >&2
fi
plitool graph export --format dot -o "$work/graph.dot" "${source_args[@]}"
plitool graph export --format graphml -o "$work/graph.graphml"
plitool graph export --format prov -o "$work/graph.prov.json"
if command -v dot >/dev/null; then
  plitool graph export --format svg -o "$work/graph.svg" "${source_args[@]}"
  printf 'The graph picture: %s\n' "$work/graph.svg" >&2
else
  printf 'Graphviz "dot" is not installed: no picture (the DOT source is %s)\n' "$work/graph.dot" >&2
fi

step "11. A screenshot read by OCR: where on the image the victim's data is (boxes, masked labels)"
# samples/screens/scam-sms-2026-10-21.png is drawn by samples/make_screenshot.py (synthetic).
plitool add "$here/samples/screens/scam-sms-2026-10-21.png" --tag harm --tag causation \
  --source "victim's phone" --collected-by "检察官 示例" --method "screen capture"
if command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx chi_sim; then
  # The number the scammer quotes is the leaked list's first row: the same fingerprint in both files.
  plitool scan E-0004 "$here/samples/screens/scam-sms-2026-10-21.png" --limit 8
  plitool scan "$here/samples/screens/scam-sms-2026-10-21.png" --show-boxes -o "$work/scam-sms.marked.png"
  printf 'The marked copy (boxes and masked labels): %s\n' "$work/scam-sms.marked.png" >&2
else
  echo "(Tesseract with its Chinese model is not installed: apt install tesseract-ocr tesseract-ocr-chi-sim; the screenshot is not read)" >&2
fi

step "12. Drafts: the complaint, the production-order application and the rest (case facts in case.toml)"
# The case facts a filing needs (parties, claims, announcement …) are typed into case.toml by people;
# here they come from samples/case-facts.toml. 'plitool draft' refuses while a fact is missing.
sed -i 's/^court = ""/court = "示例市中级人民法院"/; s/^number = ""/number = "示检民公诉〔2026〕1号"/' "$PLITOOL_CASE/case.toml"
cat "$here/samples/case-facts.toml" >> "$PLITOOL_CASE/case.toml"
for kind in civil-pil production-order tort recommendation announcement; do
  if [ ! -f "$here/templates/cn/$kind.zh.md.j2" ]; then
    echo "(no $kind template in this plitool yet: skipped)" >&2
    continue
  fi
  plitool draft "$kind" -o "$work/drafts/$kind.zh.docx"
  plitool draft "$kind" --format md -o "$work/drafts/$kind.zh.md"
done
plitool draft civil-pil --lang en -o "$work/drafts/civil-pil.en.docx"
printf 'The drafts: %s\n' "$work/drafts" >&2

step "13. The court-ready exhibit bundle (exhibits.pdf, report, originals, proofs), checked without the case"
plitool bundle -o "$work/bundle" --force
plitool verify-bundle "$work/bundle" --ca "$TSA_CA"
(cd "$work/bundle" && sha256sum -c --quiet SHA256SUMS && echo "bundle: sha256sum -c: all OK" >&2)
if command -v b3sum >/dev/null; then
  (cd "$work/bundle" && b3sum -c --quiet B3SUMS && echo "bundle: b3sum -c: all OK" >&2)
fi
if command -v pdftoppm >/dev/null; then
  # the first exhibit's page, stamped in its margin, as a picture
  first="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["exhibits"][0]["pages"][0])' "$work/bundle/bundle.json")"
  pdftoppm -png -r 60 -f "$first" -l "$first" -singlefile "$work/bundle/exhibits.pdf" "$work/bundle-page"
  printf 'A stamped page: %s\n' "$work/bundle-page.png" >&2
fi

step "14. The ledger index: removed, rebuilt by one full check, then used"
# The ledger index (issue 12): derived from the ledger, rebuilt whenever it is missing or stale.
rm -f "$work/case/.plitool/index.sqlite" "$work/case/.plitool/index.sqlite-wal" "$work/case/.plitool/index.sqlite-shm"
plitool show E-0001 >/dev/null  # one full check of the ledger rebuilds it; later commands read only what is new
plitool list --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)), "items listed (streamed, one at a time)")'

step "15. The complete fictional case QuickRide, end to end (plitool demo; the story: README, \"A complete case: QuickRide\")"
# Raw evidence to filings on a fresh copy of samples/quickride/: attribution.json, the graph picture,
# five drafts and the exhibit bundle in demo-case/quickride/ (the commands it ran: demo.log there).
plitool demo --out "$work/quickride" --force

step "16. Every finding, written as it is found into a report file (scan --json --limit 0 -o)"
# Issue 12: the findings are never held together (a leak of a million rows lists millions); the
# file appears whole when the report is complete, or not at all.
plitool scan E-0001 E-0002 E-0003 E-0004 E-0005 --json --limit 0 -o "$work/findings.json" --force
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(sum(len(f["findings"]) for f in d["files"]), "findings in", sys.argv[1])' "$work/findings.json"

step "17. The item tables for a Spark cluster: Parquet, fingerprints only, with a manifest logged in the ledger"
# what 'plitool attribute --engine spark --tables URI' reads on a cluster (README, "Spark")
plitool tables export "$work/tables" --force
python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print("case", m["case_id"], {t: v["rows"] for t, v in m["tables"].items()})' "$work/tables/manifest.json"
if [ "${PLITOOL_DEMO_SPARK:-1}" != 0 ] && command -v java >/dev/null && python3 -c 'import pyspark' 2>/dev/null; then
  # the same ranking, on Spark local[2] (about 20 s; PLITOOL_DEMO_SPARK=0 skips it)
  plitool attribute --engine spark --tables "$work/tables"
fi

printf '\n\033[1mDemo finished.\033[0m The case is in %s\n' "$work/case" >&2
printf 'To use plitool yourself, put it on your PATH:  export PATH="%s/.venv/bin:$PATH"\n' "$here" >&2
