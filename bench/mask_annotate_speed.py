"""Benchmark: mask-annotate vs. transformers' DataCollatorForLanguageModeling on real data.

Runs split + tokenize on the real data (all labeled and unlabeled documents) into a
temporary folder (not timed), then times

  A  this stage's whole run (read mlm.parquet and the tokenizer, lexicon + units,
     ``mask_dupe`` masked copies, write both Parquet files and the metrics), in process,
     after ``transformers`` is imported (as B's collator is);
  B  masking the same sequences ``mask_dupe`` times with DataCollatorForLanguageModeling
     (the classic line-by-line recipe's collator: token masking at ``--collator-prob``,
     batches of ``--batch-size``), in one run.

It also prints the stage's end-to-end CLI time (interpreter start and imports included).
The last line is ``mask-annotate <A> s, collator <B> s, ratio <B/A>``.

    python -m bench.mask_annotate_speed [--data ../shared/data/tcm_ner] [--dupe 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def prepare(data: Path, work: Path, dupe: int, strategy: str) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text("utf-8"))
    params["data"].update(labeled_dir=str(data / "labeled"),
                          unlabeled_dir=str(data / "unlabeled"), corpus_file=None)
    params.update(mask_dupe=dupe, mask_strategy=strategy, base_model="scratch")
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    for cmd in (["stages.split", "--out", work / "split", "--metrics", work / "data.json"],
                ["stages.tokenization", "--split-dir", work / "split", "--out", work / "tokenized",
                 "--tokenizer-out", work / "tokenizer", "--metrics", work / "tokenize.json"]):
        subprocess.run([sys.executable, "-m", cmd[0], "--params", path, *cmd[1:]], cwd=ROOT,
                       check=True, capture_output=True)
    return path


def time_stage(params_path: Path, work: Path) -> tuple[float, dict]:
    from dapt.params import load_params
    from stages.mask_annotate import Paths, run

    start = time.perf_counter()
    metrics = run(load_params(params_path),
                  Paths(mlm=str(work / "tokenized" / "mlm.parquet"),
                        tokenizer=str(work / "tokenizer"), units=None,
                        dev=str(work / "split" / "dev.jsonl"), out=str(work / "masked"),
                        metrics=str(work / "masking.json")))
    return time.perf_counter() - start, metrics


def time_cli(params_path: Path, work: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stages.mask_annotate", "--params", params_path,
                    "--mlm", work / "tokenized" / "mlm.parquet", "--tokenizer",
                    work / "tokenizer", "--units", "", "--dev", work / "split" / "dev.jsonl",
                    "--out", work / "masked_cli", "--metrics",
                    work / "masking_cli.json"], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def time_collator(work: Path, dupe: int, prob: float, batch_size: int, seed: int) -> float:
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling

    tokenizer = AutoTokenizer.from_pretrained(str(work / "tokenizer"))
    ids = pq.read_table(work / "tokenized" / "mlm.parquet")["input_ids"].to_pylist()
    examples = [{"input_ids": x} for x in ids]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=prob, seed=seed)
    start = time.perf_counter()
    for _ in range(dupe):
        for i in range(0, len(examples), batch_size):
            collator(examples[i : i + batch_size])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "tcm_ner")
    parser.add_argument("--dupe", type=int, default=10)
    parser.add_argument("--strategy", default="entity")
    parser.add_argument("--collator-prob", type=float, default=0.15)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if not (args.data / "labeled").is_dir():
        sys.exit(f"no labeled data under {args.data}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        params_path = prepare(args.data.resolve(), work, args.dupe, args.strategy)
        from transformers import AutoTokenizer  # noqa: F401  (imports are timed in the CLI line)

        a, metrics = time_stage(params_path, work)
        cli = time_cli(params_path, work)
        seed = yaml.safe_load(params_path.read_text("utf-8"))["seed"]
        b = time_collator(work, args.dupe, args.collator_prob, args.batch_size, seed)
    n = metrics["sequences"] + metrics["eval"]["sequences"]
    print(f"{n} sequences, strategy {args.strategy}, mask_dupe {args.dupe}: "
          f"mask_rate {metrics['mask_rate']:.4f}, entity_masked_share "
          f"{metrics['entity_masked_share']:.4f}, masked_in_entity_share "
          f"{metrics['masked_in_entity_share']:.4f}, lexicon_size {metrics['lexicon_size']}, "
          f"lexicon_matches {metrics['lexicon_matches']}")
    print(f"stage CLI end to end (interpreter start and imports included): {cli:.2f} s")
    print(f"mask-annotate {a:.2f} s, collator {b:.2f} s, ratio {b / a:.2f}")


if __name__ == "__main__":
    main()
