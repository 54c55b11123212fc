#!/usr/bin/env python3
"""Writes the text corpus of the bag-text-frequencies workloads of benches/compare/run.

Usage: python gen_text.py --out DIR [--mb 200] [--files 8] [--seed 42]

Layout of DIR (every file is the same text, once plain and once gzipped):

    DIR/plain/part-000.txt ... part-NNN.txt      --files files, ~MB*1e6/files bytes each
    DIR/gz/part-000.txt.gz ... part-NNN.txt.gz   the same bytes, gzip level 6 (mtime 0)
    DIR/expected.json                            totals and the expected top 10 (below)
    DIR/.gen-stamp                               the parameters; written last

The text: a vocabulary of 10,000 distinct lowercase ASCII words (random letters,
lengths 2-12, drawn with the seed; a word already drawn is drawn again, so
short words are under-represented), rank r (1-based, the vocabulary's order)
drawn with probability proportional to 1/r (Zipf, s = 1), 5 to 15 words a line
(uniform), words separated by one space, every line ended by "\\n" (the last
line of every file too). No other characters: splitting on whitespace gives
exactly the words. Each file is cut on a line boundary at or below its share
of the total (the total is therefore a little under MB*1e6).

expected.json:

    {"bytes": total uncompressed bytes, "lines": total lines, "words": total words,
     "top10": [[word, count], ...]   the 10 most frequent words, most frequent first
                                     (their counts are distinct and the 10th is above
                                     the 11th: checked here, so the list is unambiguous),
     "vocabulary": 10000, "distinct_words": words that occur at least once,
     "seed": SEED,
     "files": [{"plain": "plain/part-000.txt", "gz": "gz/part-000.txt.gz",
                "bytes": ..., "gz_bytes": ..., "lines": ..., "words": ...}, ...],
     "params": {"mb", "files", "seed", "vocabulary", "zipf_s", "word_length",
                "words_per_line", "gzip_level"},
     "numpy": NumPy version, "generator_sha256": SHA-256 of this file}

Deterministic for given parameters, NumPy version and this file's text. The
work is done in a temporary directory beside DIR which replaces DIR at the end,
so an interrupted run leaves no DIR with a stamp and is redone; when
DIR/.gen-stamp matches the parameters (and the files have the sizes
expected.json records) nothing is written, so the driver can call this
before every run. Memory stays a few hundred MB (the text is made in chunks).
"""
import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

VOCAB = 10_000
WORD_LEN = (2, 12)  # inclusive
LINE_WORDS = (5, 15)  # inclusive
ZIPF_S = 1.0
GZIP_LEVEL = 6
STAMP = ".gen-stamp"
OURS = {"plain", "gz", "expected.json", STAMP}  # what DIR may hold before it is replaced
CHUNK_LINES = 100_000  # lines made at once (~8 MB of text, ~150 MB of index arrays)


def log(msg):
    print(f"gen_text: {msg}", file=sys.stderr, flush=True)


def vocabulary(rng):
    """VOCAB distinct words; index = rank - 1."""
    words, seen = [], set()
    while len(words) < VOCAB:
        n = VOCAB - len(words)
        lengths = rng.integers(WORD_LEN[0], WORD_LEN[1] + 1, size=n)
        letters = rng.integers(ord("a"), ord("z") + 1, size=(n, WORD_LEN[1]), dtype=np.uint8)
        for length, row in zip(lengths.tolist(), letters):
            w = row[:length].tobytes().decode("ascii")
            if w not in seen:
                seen.add(w)
                words.append(w)
    return words


class Text:
    """Makes lines in chunks: byte arrays plus the ranks they hold."""

    def __init__(self, words, rng):
        self.rng = rng
        self.wlen = np.array([len(w) for w in words], dtype=np.int64)
        # One row per word: its letters, then the separator slot (a space; line
        # ends are patched to "\n" afterwards).
        self.table = np.full((VOCAB, WORD_LEN[1] + 1), ord(" "), dtype=np.uint8)
        for i, w in enumerate(words):
            self.table[i, : len(w)] = np.frombuffer(w.encode("ascii"), dtype=np.uint8)
        p = 1.0 / np.arange(1, VOCAB + 1, dtype=np.float64) ** ZIPF_S
        self.cdf = np.cumsum(p / p.sum())
        self.cdf[-1] = 1.0

    def chunk(self, lines):
        """`lines` lines: (bytes as uint8 array, line end offsets, words per line, ranks)."""
        per_line = self.rng.integers(LINE_WORDS[0], LINE_WORDS[1] + 1, size=lines)
        n = int(per_line.sum())
        ranks = np.searchsorted(self.cdf, self.rng.random(n), side="right").astype(np.int32)
        tok_bytes = self.wlen[ranks] + 1  # the word and its separator
        tok_end = np.cumsum(tok_bytes)
        total = int(tok_end[-1])
        tok_of_byte = np.repeat(np.arange(n, dtype=np.int32), tok_bytes)
        pos = np.arange(total, dtype=np.int64)
        pos -= (tok_end - tok_bytes)[tok_of_byte]
        out = self.table[ranks[tok_of_byte], pos]
        del tok_of_byte, pos
        line_end = tok_end[np.cumsum(per_line) - 1]  # byte offset just past each line
        out[line_end - 1] = ord("\n")
        return out, line_end, per_line, ranks


def stamp_text(args):
    sha = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return (f"mb {args.mb}\nfiles {args.files}\nseed {args.seed}\n"
            f"numpy {np.__version__}\ngenerator-sha256 {sha}\n")


def is_current(out, stamp):
    """True when `out` holds a complete corpus made with these parameters."""
    try:
        if (out / STAMP).read_text() != stamp:
            return False
        exp = json.loads((out / "expected.json").read_text())
        return all(
            (out / f["plain"]).stat().st_size == f["bytes"]
            and (out / f["gz"]).stat().st_size == f["gz_bytes"]
            for f in exp["files"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def generate(tmp, args):
    rng = np.random.default_rng(args.seed)
    words = vocabulary(rng)
    text = Text(words, rng)
    (tmp / "plain").mkdir()
    (tmp / "gz").mkdir()
    target = int(args.mb * 1e6) // args.files  # bytes per file, at most
    counts = np.zeros(VOCAB, dtype=np.int64)
    files = []
    gz_seconds = 0.0
    for k in range(args.files):
        plain_name, gz_name = f"plain/part-{k:03d}.txt", f"gz/part-{k:03d}.txt.gz"
        size = lines = nwords = 0
        with open(tmp / plain_name, "wb") as fp, open(tmp / gz_name, "wb") as fz, \
                gzip.GzipFile(filename=Path(plain_name).name, mode="wb", fileobj=fz,
                              compresslevel=GZIP_LEVEL, mtime=0) as gz:
            while True:
                room = target - size
                # Lines of ~80 bytes on average: ask for a little more than fits,
                # so a file usually ends within one chunk; the rest is dropped.
                want = min(CHUNK_LINES, room // 60 + 16)
                out, line_end, per_line, ranks = text.chunk(want)
                keep = int(np.searchsorted(line_end, room, side="right"))  # lines that fit
                full = keep == want
                if keep:
                    nbytes = int(line_end[keep - 1])
                    ntok = int(per_line[:keep].sum())
                    data = out[:nbytes].data
                    fp.write(data)
                    t0 = time.perf_counter()
                    gz.write(data)
                    gz_seconds += time.perf_counter() - t0
                    counts += np.bincount(ranks[:ntok], minlength=VOCAB)
                    size += nbytes
                    lines += keep
                    nwords += ntok
                if not full:
                    break
        if lines == 0:
            raise SystemExit(f"gen_text: --mb {args.mb} over {args.files} files leaves no room "
                             "for a line in a file")
        files.append({"plain": plain_name, "gz": gz_name, "bytes": size,
                      "gz_bytes": (tmp / gz_name).stat().st_size,
                      "lines": lines, "words": nwords})

    order = sorted(range(VOCAB), key=lambda i: (-counts[i], i))
    top = [int(counts[i]) for i in order[:11]]
    if len(set(top[:10])) != 10 or top[9] <= top[10]:
        raise SystemExit(f"gen_text: the top-10 counts are not distinct ({top}); "
                         "use more text (--mb) or another --seed")
    expected = {
        "bytes": sum(f["bytes"] for f in files),
        "lines": sum(f["lines"] for f in files),
        "words": sum(f["words"] for f in files),
        "top10": [[words[i], int(counts[i])] for i in order[:10]],
        "vocabulary": VOCAB,
        "distinct_words": int((counts > 0).sum()),
        "seed": args.seed,
        "files": files,
        "params": {"mb": args.mb, "files": args.files, "seed": args.seed,
                   "vocabulary": VOCAB, "zipf_s": ZIPF_S, "word_length": list(WORD_LEN),
                   "words_per_line": list(LINE_WORDS), "gzip_level": GZIP_LEVEL},
        "numpy": np.__version__,
        "generator_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }
    (tmp / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    return expected, gz_seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, type=Path, help="the corpus directory")
    p.add_argument("--mb", type=float, default=200, help="total size in 1e6 bytes (default 200)")
    p.add_argument("--files", type=int, default=8, help="files the text is split over (default 8)")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    if args.mb <= 0 or args.files < 1:
        p.error("--mb must be > 0 and --files >= 1")
    if args.mb == int(args.mb):
        args.mb = int(args.mb)  # "200", not "200.0", in the stamp and expected.json

    out = args.out.resolve()
    stamp = stamp_text(args)
    if is_current(out, stamp):
        log(f"{out} is current (mb {args.mb}, files {args.files}, seed {args.seed}); reused")
        return 0
    if out.exists():
        stray = sorted(set(os.listdir(out)) - OURS)
        if stray:
            p.error(f"{out} holds files this script did not write ({', '.join(stray[:5])}); "
                    "remove them or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    for old in out.parent.glob(f".{out.name}.tmp-*"):  # left by an interrupted run
        shutil.rmtree(old, ignore_errors=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    tmp.mkdir()
    t0 = time.perf_counter()
    try:
        expected, gz_seconds = generate(tmp, args)
        (tmp / STAMP).write_text(stamp)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    gz_total = sum(f["gz_bytes"] for f in expected["files"])
    log(f"wrote {out}: {expected['bytes'] / 1e6:.1f} MB in {args.files} files "
        f"({gz_total / 1e6:.1f} MB gzipped), {expected['lines']} lines, {expected['words']} words, "
        f"{expected['distinct_words']} distinct; {time.perf_counter() - t0:.1f} s "
        f"({gz_seconds:.1f} s of it gzip)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
