"""Where SSN's SWD gap to its StyleGAN2 comes from: independent block latents against one latent over the grid.

For the StyleGAN2 source, its SSN transfer before any training (step 0) and each fine-tuned run, SWD x1e3 against
crops of held-back photos twice: with SSN's own latents (every block drawn independently) and with one latent
repeated over every block (what the StyleGAN2 was trained on). An exact transfer matches the source with the
repeated latent; the gap with independent latents is then the cost of the spatial latent itself, which the
fine-tune has to close.

    python benchmarks/ssn_block_latents.py --source build/ssn64/source-sg2-67792.safetensors \\
        --heldout build/photo-models64/photos64-heldout.zip --train build/photo-models64/photos64.zip \\
        --runs build/ssn64/bilinear-lambda0,build/ssn64/bilinear-lambda100 --num 1000
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ssn_distortion import transferred  # noqa: E402
from spatialgan import api  # noqa: E402
from spatialgan.checkpoint import find_snapshots  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate  # noqa: E402
from spatialgan.training.launch import parse_latent_grid  # noqa: E402
from spatialgan.training.runfolder import snapshot_nimg  # noqa: E402


def swd(adapter, heldout: str, num: int, repeated: bool) -> float:
    """SWD x1e3 of the adapter's samples; `repeated`: block (0, 0)'s latent copied over the grid."""
    sample = adapter.sample
    if repeated:
        adapter.sample = lambda z, *a, **k: sample(z[:, :, :1, :1].expand_as(z).contiguous(), *a, **k)
    try:
        records = evaluate(adapter, ["swd"], heldout, EvalOptions(num=num, features="resnet20", cache_dir="", batch=64))
    finally:
        adapter.sample = sample
    return next(r["value"] for r in records if r["metric"] == "swd")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="the StyleGAN2 snapshot the runs were transferred from")
    p.add_argument("--heldout", required=True, help="crops of held-back photos (.zip)")
    p.add_argument("--train", required=True, help="training crops (.zip; only named in the transfer's config)")
    p.add_argument("--runs", default="", help="comma list of fine-tuned SSN run folders")
    p.add_argument("--encoder", default="bilinear", help="spatial encoder of the step-0 transfer")
    p.add_argument("--grid", default="4x4")
    p.add_argument("--num", type=int, default=1000)
    p.add_argument("--out", default="benchmarks/results/ssn-block-latents.json")
    args = p.parse_args()
    base = swd(api.load(args.source, amp="off").adapter, args.heldout, args.num, repeated=False)
    rows = [{"model": "StyleGAN2 (source)", "independent": base, "repeated": base}]
    step0 = transferred(args.source, args.train, args.encoder, parse_latent_grid(args.grid))
    models = [(f"SSN {args.encoder}, transfer, 0 kimg", step0)]
    models += [(f"{Path(r).name}, {snapshot_nimg(find_snapshots(r)[-1]) / 1000:g} kimg", api.load(r, amp="off").adapter)
               for r in filter(None, args.runs.split(","))]
    for name, adapter in models:
        rows.append({"model": name, **{k: swd(adapter, args.heldout, args.num, repeated=k == "repeated")
                                       for k in ("independent", "repeated")}})
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"source": args.source, "num": args.num, "rows": rows}, indent=1))
    print("\n| model | SWD, independent block latents | vs source | SWD, one latent repeated | vs source |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['independent']:.1f} | {r['independent'] / base:.2f}x | {r['repeated']:.1f} | "
              f"{r['repeated'] / base:.2f}x |")


if __name__ == "__main__":
    main()
