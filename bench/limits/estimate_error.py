"""Error of the limits stage's prompt estimate against OpenAI's o200k_base tokenizer.

Needs ``bpe-openai`` (ships o200k_base inside its wheel, works offline), which is not a
project dependency; run it from a scratch environment:

    python -m venv /tmp/tok && /tmp/tok/bin/pip install bpe-openai
    /tmp/tok/bin/python bench/limits/estimate_error.py > bench/results/limits-estimate-error.txt

Reads ../shared/data/*.jsonl plus synthetic random, CJK, digit and emoji strings.
The last table is the estimator in use (bastion/limits/estimate.py, without its
per-segment overhead); the ones before are plain bytes/N for comparison.
"""

# ruff: noqa
import json, glob, math, random, string, sys
import bpe_openai

enc = bpe_openai.get_encoding("o200k_base")
texts = {}
for f in sorted(glob.glob("/work/shared/data/*.jsonl")):
    name = f.split("/")[-1].split(".")[0]
    texts[name] = [json.loads(l)["text"] for l in open(f)]
rng = random.Random(7)
# synthetic hard cases: random base64/hex, CJK, emoji, digits
texts["synthetic-random"] = [
    "".join(
        rng.choice(string.ascii_letters + string.digits + "+/")
        for _ in range(rng.randint(20, 2000))
    )
    for _ in range(300)
]
texts["synthetic-cjk"] = [
    "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(10, 800)))
    for _ in range(300)
]
texts["synthetic-digits"] = [
    " ".join(str(rng.randint(0, 10 ** rng.randint(1, 12))) for _ in range(rng.randint(5, 300)))
    for _ in range(300)
]
texts["synthetic-emoji"] = [
    "".join(chr(rng.randint(0x1F300, 0x1F64F)) for _ in range(rng.randint(5, 300)))
    for _ in range(300)
]
for div in (4.0, 3.0, 2.5, 2.0):
    print(f"--- estimate = ceil(utf8 bytes / {div})")
    tot_under = 0
    tot = 0
    for name, ts in texts.items():
        ratios = []
        under = 0
        for t in ts:
            real = len(enc.encode(t))
            if real == 0:
                continue
            est = math.ceil(len(t.encode()) / div)
            ratios.append(est / real)
            under += est < real
        ratios.sort()
        tot_under += under
        tot += len(ratios)
        print(
            f"{name:22s} n={len(ratios):5d} est/real p1={ratios[len(ratios) // 100]:.2f} p50={ratios[len(ratios) // 2]:.2f} p99={ratios[len(ratios) * 99 // 100]:.2f} min={ratios[0]:.2f} under={under}"
        )
    print("total under:", tot_under, "of", tot)
print("=== estimate = ceil(chars/2) + (utf8 bytes - chars)")
tu = 0
tt = 0
for name, ts in texts.items():
    ratios = []
    under = 0
    for t in ts:
        real = len(enc.encode(t))
        if real == 0:
            continue
        b = len(t.encode())
        c = len(t)
        est = -(-c // 2) + (b - c)
        ratios.append(est / real)
        under += est < real
    ratios.sort()
    tu += under
    tt += len(ratios)
    print(
        f"{name:22s} n={len(ratios):5d} est/real p1={ratios[len(ratios) // 100]:.2f} p50={ratios[len(ratios) // 2]:.2f} p99={ratios[len(ratios) * 99 // 100]:.2f} min={ratios[0]:.2f} under={under}"
    )
print("total under:", tu, "of", tt)
