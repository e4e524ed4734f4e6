#!/usr/bin/env python3
"""brainsynth cluster job: trains ONE stage of the FLAIR -> T1w pipeline with MONAI Generative Models
networks under PyTorch DistributedDataParallel, launched by torchrun (see launch.sh and README.md).

Everything it needs sits in the job folder written by `brainsynth cluster export`:
  job.json            the run config (the same object a local brainsynth run stores) + provenance
  data/               the prepared slices as 8-bit PNGs with train/validation/test.tsv (t1w, flair)
  parents/<stage>/    the parent runs' weights (model.safetensors in MONAI names, context, latent scale)
What it writes (rank 0 only, every file atomically: temp file + fsync + rename):
  output/metrics.jsonl          one JSON object per line {step, epoch, split, name, value}; each batch of
                                lines goes out in one append, and readers skip an unterminated last line
  output/checkpoints/step-N/    model.safetensors (MONAI names), context.safetensors (LDM), meta.json
                                (step, epoch, latent scale, sha256 of each file), train_state.pt (resume)
  output/checkpoints/last.json  pointer to the newest checkpoint folder (best.json: best validation loss)
  output/status.json            running | completed | failed, step, world size, device, versions

Stage loops (the reference's): autoencoder = L1 + KL + perceptual (optional) + least-squares adversarial
loss from advStartEpoch, Adam, gradients clipped; ldm = v-prediction MSE on scaled latents of the frozen
autoencoder with learned prompt/null context and prompt dropout, AdamW; controlnet = frozen UNet,
autoencoder and context, the FLAIR slice as condition, AdamW on the ControlNet.
Extra arguments: --max-steps N (stop early), --epochs, --batch-size, --resume, --perceptual NAME.
"""
import argparse
import hashlib
import json
import math
import os
import signal
import socket
import struct
import sys
import time
import traceback

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

JOB = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--job", default=JOB, help="job folder (default: the folder holding this script)")
    ap.add_argument("--out", default=None, help="output folder (default: JOB/output)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many optimiser steps (0: the config's epochs)")
    ap.add_argument("--epochs", type=int, default=0, help="override loop.epochs")
    ap.add_argument("--batch-size", type=int, default=0, help="override loop.batchSize (per process)")
    ap.add_argument("--checkpoint-every", type=int, default=-1, help="override loop.checkpointEvery (steps)")
    ap.add_argument("--resume", action="store_true", help="continue from output/checkpoints/last.json")
    ap.add_argument("--perceptual", default="none",
                    help="autoencoder perceptual network for generative.losses.PerceptualLoss (squeeze, alex, vgg, "
                         "radimagenet_resnet50, ...; needs its weights reachable); none = L1 + KL + adversarial")
    ap.add_argument("--perceptual-weight", type=float, default=0.002)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads on CPU (0: leave)")
    return ap.parse_args()


# ----------------------------------------------------------------------------------------------
# Files: safetensors without the safetensors package, atomic writes
# ----------------------------------------------------------------------------------------------

def write_atomic(path, data: bytes):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype in (torch.int64, torch.int32, torch.long):
            arr, dtype = t.to(torch.int64).numpy().astype("<i8"), "I64"
        else:
            arr, dtype = t.to(torch.float32).numpy().astype("<f4"), "F32"
        b = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    write_atomic(path, struct.pack("<Q", len(h)) + h + b"".join(blobs))


_ST_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        if spec["dtype"] not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {spec['dtype']} this script does not read")
        a, b = spec["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=_ST_DTYPES[spec["dtype"]]).reshape(spec["shape"])
        out[name] = torch.from_numpy(arr.copy())
        if out[name].is_floating_point():
            out[name] = out[name].float()
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), os.path.getsize(path)


# ----------------------------------------------------------------------------------------------
# Data: the reference's PNG + TSV layout
# ----------------------------------------------------------------------------------------------

def read_png_gray(path):
    from PIL import Image  # pillow; imported here so --help works without it
    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"), dtype=np.uint8)
    if arr.shape != (160, 224):
        raise ValueError(f"{path}: expected a 224x160 slice, got {arr.shape[1]}x{arr.shape[0]}")
    return arr


def load_split(job, split, export_root):
    """uint8 [N, 2, 160, 224] (channel 0 = T1w, 1 = FLAIR); TSV paths are remapped into JOB/data."""
    data_dir = os.path.join(job, "data")
    tsv = os.path.join(data_dir, f"{split}.tsv")
    if not os.path.exists(tsv):
        raise FileNotFoundError(f"{tsv}: missing (the job folder is incomplete)")
    rows = [line.rstrip("\n").split("\t") for line in open(tsv, encoding="utf-8") if line.strip()]
    if not rows or rows[0] != ["t1w", "flair"]:
        raise ValueError(f"{tsv}: expected the header 't1w<TAB>flair'")

    def where(p):
        if export_root and p.startswith(export_root):
            return os.path.join(data_dir, os.path.relpath(p, export_root))
        return p if os.path.isabs(p) else os.path.join(data_dir, p)

    pairs = [(where(t), where(f)) for t, f in rows[1:]]
    out = np.zeros((len(pairs), 2, 160, 224), dtype=np.uint8)
    for i, (t, f) in enumerate(pairs):
        out[i, 0] = read_png_gray(t)
        out[i, 1] = read_png_gray(f)
    return torch.from_numpy(out)


def to_float(batch_u8, image_size, device):
    """[B, 2, 160, 224] uint8 -> float [0, 1] at the configured size (area average, as the local cache)."""
    x = batch_u8.to(device=device, dtype=torch.float32) / 255.0
    h, w = image_size
    if (h, w) != (160, 224):
        x = F.avg_pool2d(x, kernel_size=(160 // h, 224 // w))
    return x[:, :1], x[:, 1:]


AUGMENT = {
    "autoencoder": dict(flip=0.5, affine=0.5, translate=2, scale=(0.95, 1.05), shift=0.1, shift_range=0.05, contrast=0.1, gamma=(0.97, 1.03)),
    "diffusion": dict(flip=0.5, affine=0.25, translate=2, scale=(0.99, 1.01), shift=0.1, shift_range=0.05, contrast=0.1, gamma=(0.97, 1.03)),
}
# For training sets of few subjects: the diffusion table's flips and intensity changes with
# rotation, larger scaling and a smooth deformation (pixel sizes for 80x112 slices, as the app's).
AUGMENT["anatomy"] = dict(AUGMENT["diffusion"], affine=0.8, translate=4, scale=(0.9, 1.1), rotate=math.radians(10), elastic=0.5,
                          elastic_spacing=16, elastic_magnitude=2)


def augment_table(config, stage):
    """The run's augmentation setting: "none", "reference" (the per-stage tables) or "anatomy";
    older configs hold a boolean (true = reference)."""
    setting = config.get("augment", True)
    if setting is False or setting == "none":
        return None
    if setting == "anatomy":
        return AUGMENT["anatomy"]
    if setting is True or setting == "reference":
        return AUGMENT["autoencoder" if stage == "autoencoder" else "diffusion"]
    raise ValueError(f"job.json: augment must be none, reference or anatomy, got {setting!r}")


def augment(images, a, gen):
    """The reference's order: flip -> affine (+ deformation) -> intensity shift -> contrast -> clamp;
    paired images (list of [B, 1, H, W]) get the same geometric draw, as MONAI dictionary transforms do."""
    b, _, h, w = images[0].shape
    dev = images[0].device
    u = lambda *s: torch.rand(*s, generator=gen).to(dev)
    flip = u(b) < a["flip"]
    images = [torch.where(flip[:, None, None, None], x.flip(2), x) for x in images]
    aff = u(b) < a["affine"]
    sx = a["scale"][0] + (a["scale"][1] - a["scale"][0]) * u(b)
    sy = a["scale"][0] + (a["scale"][1] - a["scale"][0]) * u(b)
    tx = (u(b) * 2 - 1) * a["translate"] * 2 / w
    ty = (u(b) * 2 - 1) * a["translate"] * 2 / h
    # Tables without rotation draw nothing for it, so their random stream is as it always was.
    rot = torch.where(aff, (u(b) * 2 - 1) * a["rotate"], torch.zeros(b, device=dev)) if a.get("rotate") else torch.zeros(b, device=dev)
    one = torch.ones_like(sx)
    kx = torch.where(aff, 1 / sx, one)
    ky = torch.where(aff, 1 / sy, one)
    cos, sin = torch.cos(rot), torch.sin(rot)
    theta = torch.zeros(b, 2, 3, device=dev)
    # Rotation in pixel space, written in affine_grid's normalised coordinates (x spans w, y spans h).
    theta[:, 0, 0] = cos * kx
    theta[:, 0, 1] = sin * ky * h / w
    theta[:, 1, 0] = -sin * kx * w / h
    theta[:, 1, 1] = cos * ky
    theta[:, 0, 2] = torch.where(aff, tx, torch.zeros_like(tx))
    theta[:, 1, 2] = torch.where(aff, ty, torch.zeros_like(ty))
    grid = F.affine_grid(theta, list(images[0].shape), align_corners=False)
    if a.get("elastic", 0) > 0:
        rows = max(2, math.ceil((h - 1) / a["elastic_spacing"]) + 1)
        cols = max(2, math.ceil((w - 1) / a["elastic_spacing"]) + 1)
        on = (u(b) < a["elastic"]).float()[:, None, None, None]
        coarse = torch.randn(b, 2, rows, cols, generator=gen).to(dev) * a["elastic_magnitude"] * on
        field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
        # Pixels -> normalised units: x (channel 0) over w, y (channel 1) over h.
        grid = grid + torch.stack([field[:, 0] * 2 / w, field[:, 1] * 2 / h], dim=-1)
    images = [F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False) for x in images]
    out = []
    for x in images:
        shift = torch.where(u(b) < a["shift"], (u(b) * 2 - 1) * a["shift_range"], torch.zeros(b, device=dev))
        x = x + shift[:, None, None, None]
        gamma = torch.where(u(b) < a["contrast"], a["gamma"][0] + (a["gamma"][1] - a["gamma"][0]) * u(b), torch.ones(b, device=dev))
        lo = x.amin(dim=(1, 2, 3), keepdim=True)
        hi = x.amax(dim=(1, 2, 3), keepdim=True)
        rng = (hi - lo).clamp_min(1e-7)
        x = ((x - lo) / rng) ** gamma[:, None, None, None] * rng + lo
        out.append(x.clamp(0, 1))
    return out


# ----------------------------------------------------------------------------------------------
# Output: metrics, checkpoints, status (rank 0)
# ----------------------------------------------------------------------------------------------

class Output:
    def __init__(self, out_dir, enabled):
        self.dir = out_dir
        self.enabled = enabled
        self.ckpt_dir = os.path.join(out_dir, "checkpoints")
        self.status = {}
        if enabled:
            os.makedirs(self.ckpt_dir, exist_ok=True)

    def metrics(self, step, epoch, split, values):
        if not self.enabled or not values:
            return
        lines = "".join(json.dumps({"step": step, "epoch": epoch, "split": split, "name": k, "value": float(v)}) + "\n"
                        for k, v in values.items())
        # One write() of whole lines on an O_APPEND descriptor: readers never see a partial record
        # except possibly an unterminated last line, which they skip until it is complete.
        fd = os.open(os.path.join(self.dir, "metrics.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def write_status(self, **kw):
        if not self.enabled:
            return
        self.status.update(kw, updatedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        write_atomic(os.path.join(self.dir, "status.json"), json.dumps(self.status, indent=1).encode())

    def pointer(self, kind):
        p = os.path.join(self.ckpt_dir, f"{kind}.json")
        if not os.path.exists(p):
            return None
        with open(p) as f:
            return json.load(f)

    def checkpoint(self, stage, step, epoch, kinds, model, context=None, extra=None, train_state=None):
        if not self.enabled:
            return
        name = f"step-{step:08d}"
        final = os.path.join(self.ckpt_dir, name)
        tmp = os.path.join(self.ckpt_dir, f".{name}.tmp-{os.getpid()}")
        os.makedirs(tmp, exist_ok=True)
        save_safetensors(os.path.join(tmp, "model.safetensors"), model, {"stage": stage, "step": step})
        if context is not None:
            save_safetensors(os.path.join(tmp, "context.safetensors"), context)
        if train_state is not None:
            torch.save(train_state, os.path.join(tmp, "train_state.pt"))
        files = {}
        for f in sorted(os.listdir(tmp)):
            digest, size = sha256_file(os.path.join(tmp, f))
            files[f] = {"sha256": digest, "bytes": size}
        meta = {"format": "brainsynth-cluster-checkpoint", "version": 1, "stage": stage, "step": step, "epoch": epoch,
                "files": files, **(extra or {}), "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_atomic(os.path.join(tmp, "meta.json"), json.dumps(meta, indent=1).encode())
        if os.path.exists(final):
            import shutil
            shutil.rmtree(final)
        os.replace(tmp, final)
        for kind in kinds:
            write_atomic(os.path.join(self.ckpt_dir, f"{kind}.json"), json.dumps({"dir": name, "step": step}).encode())
        keep = {p["dir"] for p in (self.pointer("last"), self.pointer("best")) if p}
        for entry in os.listdir(self.ckpt_dir):
            if entry.startswith("step-") and entry not in keep:
                import shutil
                shutil.rmtree(os.path.join(self.ckpt_dir, entry), ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------------------

def unwrap(m):
    return m.module if isinstance(m, DDP) else m


def kl_loss(mu, sigma):
    return 0.5 * torch.sum(mu.pow(2) + sigma.pow(2) - torch.log(sigma.pow(2).clamp_min(1e-30)) - 1, dim=[1, 2, 3]).mean()


def lsgan(logits, target):
    """Least-squares GAN term, as generative.losses.PatchAdversarialLoss("least_squares"); written out
    because importing generative.losses pulls in lpips even when no perceptual loss is used."""
    return torch.mean((logits - target) ** 2)


def load_parent(job, role):
    d = os.path.join(job, "parents", role)
    meta_path = os.path.join(d, "parent.json")
    if not os.path.exists(meta_path):
        raise FileNotFoundError(f"{meta_path}: missing; this stage needs its {role} parent's weights in the job folder")
    with open(meta_path) as f:
        meta = json.load(f)
    model = load_safetensors(os.path.join(d, "model.safetensors"))
    ctx_path = os.path.join(d, "context.safetensors")
    context = load_safetensors(ctx_path) if os.path.exists(ctx_path) else None
    return meta, model, context


def frozen_autoencoder(job, device):
    from generative.networks.nets import AutoencoderKL
    meta, sd, _ = load_parent(job, "autoencoder")
    ae = AutoencoderKL(**meta["config"]["autoencoder"]["network"])
    ae.load_state_dict(sd)
    ae.to(device).eval()
    for p in ae.parameters():
        p.requires_grad_(False)
    return ae


def scheduler_from(cfg):
    from generative.networks.schedulers import DDPMScheduler
    s = cfg["scheduler"]
    return DDPMScheduler(num_train_timesteps=s["numTrainTimesteps"], schedule=s["schedule"], beta_start=s["betaStart"],
                         beta_end=s["betaEnd"], prediction_type=s["predictionType"])


def noised(sched, cfg, latent, gen):
    b = latent.shape[0]
    t = torch.randint(0, cfg["scheduler"]["numTrainTimesteps"], (b,), generator=gen).to(latent.device)
    noise = torch.randn(latent.shape, generator=gen).to(latent.device)
    xt = sched.add_noise(original_samples=latent, noise=noise, timesteps=t)
    target = sched.get_velocity(latent, noise, t) if cfg["scheduler"]["predictionType"] == "v_prediction" else noise
    return xt, t, target


class Context(torch.nn.Module):
    """Learned prompt / null cross-attention context ([tokens, dim] each); dropout swaps in null."""

    def __init__(self, tokens, dim, gen, initial=None, trainable=True):
        super().__init__()
        p = initial["prompt"].reshape(-1, dim) if initial else torch.randn(tokens, dim, generator=gen)
        n = initial["null"].reshape(-1, dim) if initial else torch.randn(tokens, dim, generator=gen)
        self.prompt = torch.nn.Parameter(p.clone(), requires_grad=trainable)
        self.null = torch.nn.Parameter(n.clone(), requires_grad=trainable)

    def batch(self, dropped):
        m = dropped.to(self.prompt.dtype)[:, None, None]
        return self.prompt[None] * (1 - m) + self.null[None] * m


class LdmModel(torch.nn.Module):
    def __init__(self, unet, context):
        super().__init__()
        self.unet = unet
        self.context = context

    def forward(self, xt, t, dropped):
        return self.unet(x=xt, timesteps=t, context=self.context.batch(dropped))


class AutoencoderStage:
    def __init__(self, config, job, device, args, gen):
        from generative.networks.nets import AutoencoderKL, PatchDiscriminator
        self.cfg = config["autoencoder"]
        self.ae = AutoencoderKL(**self.cfg["network"]).to(device)
        disc = PatchDiscriminator(**self.cfg["discriminator"])
        if dist.is_initialized() and device.type == "cuda":
            # Batch statistics over the global batch (SyncBatchNorm runs on GPUs only).
            disc = torch.nn.SyncBatchNorm.convert_sync_batchnorm(disc)
        self.disc = disc.to(device)
        self.perceptual = None
        self.p_weight = 0.0
        if args.perceptual != "none":
            from generative.losses.perceptual import PerceptualLoss
            self.perceptual = PerceptualLoss(spatial_dims=2, network_type=args.perceptual).to(device).eval()
            self.p_weight = args.perceptual_weight
        self.models = {"ae": self.ae, "disc": self.disc}
        self.device = device
        self.augment = augment_table(config, "autoencoder")

    def wrap(self, wrap):
        self.ae_t = wrap(self.ae)
        self.disc_t = wrap(self.disc)
        self.opt_g = torch.optim.Adam(self.ae.parameters(), lr=self.cfg["lr"])
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=self.cfg["discLr"])

    def step(self, t1w, flair, epoch, gen):
        c = self.cfg
        x = augment([t1w], self.augment, gen)[0] if self.augment else t1w
        adv = epoch >= c["advStartEpoch"]
        self.opt_g.zero_grad(set_to_none=True)
        recon, mu, sigma = self.ae_t(x)
        l1 = torch.abs(recon - x).mean()
        kl = kl_loss(mu, sigma)
        loss = l1 + c["klWeight"] * kl
        out = {"l1_loss": l1.item(), "kl_loss": kl.item()}
        if self.perceptual is not None:
            p = self.perceptual(recon.float(), x.float())
            loss = loss + self.p_weight * p
            out["p_loss"] = p.item()
        if adv:
            g = lsgan(self.disc_t(recon.contiguous().float())[-1], 1.0)
            loss = loss + c["advWeight"] * g
            out["g_loss"] = g.item()
        loss.backward()
        out["grad_norm_g"] = float(torch.nn.utils.clip_grad_norm_(self.ae.parameters(), c["gradClip"]))
        self.opt_g.step()
        out["loss"] = loss.item()
        if adv:
            self.opt_d.zero_grad(set_to_none=True)
            fake = lsgan(self.disc_t(recon.contiguous().detach())[-1], 0.0)
            real = lsgan(self.disc_t(x.contiguous().detach())[-1], 1.0)
            d = c["advWeight"] * 0.5 * (fake + real)
            d.backward()
            out["grad_norm_d"] = float(torch.nn.utils.clip_grad_norm_(self.disc.parameters(), c["gradClip"]))
            self.opt_d.step()
            out["d_loss"] = d.item()
        return out

    @torch.no_grad()
    def validate(self, batches):
        sums, n = {}, 0
        self.ae.eval()
        for t1w, _ in batches:
            recon, mu, sigma = self.ae(t1w)
            vals = {"l1_loss": torch.abs(recon - t1w).mean().item(), "kl_loss": kl_loss(mu, sigma).item()}
            if self.perceptual is not None:
                vals["p_loss"] = self.perceptual(recon, t1w).item()
            for k, v in vals.items():
                sums[k] = sums.get(k, 0.0) + v * t1w.shape[0]
            n += t1w.shape[0]
        self.ae.train()
        metrics = {k: v / n for k, v in sums.items()} if n else {}
        return metrics.get("l1_loss", float("nan")), metrics

    def payload(self):
        return {"model": self.ae.state_dict(), "context": None, "extra": {}}

    def train_state(self):
        return {"ae": self.ae.state_dict(), "disc": self.disc.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_train_state(self, s):
        self.ae.load_state_dict(s["ae"])
        self.disc.load_state_dict(s["disc"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])


class LdmStage:
    def __init__(self, config, job, device, args, gen, first_batch):
        from generative.networks.nets import DiffusionModelUNet
        self.cfg = config["ldm"]
        self.device = device
        self.ae = frozen_autoencoder(job, device)
        self.sched = scheduler_from(self.cfg)
        unet = DiffusionModelUNet(**self.cfg["network"])
        dim = int(self.cfg["network"]["cross_attention_dim"])
        initial = None
        ctx_file = os.path.join(job, "context.safetensors")
        if self.cfg.get("contextFile"):
            initial = load_safetensors(ctx_file)
        context = Context(self.cfg["contextTokens"], dim, gen, initial, trainable=initial is None)
        self.model = LdmModel(unet, context).to(device)
        scale = self.cfg["latentScale"]
        if scale == "auto":
            with torch.no_grad():
                z = self.ae.encode_stage_2_inputs(first_batch)
            scale = float(1.0 / z.flatten().std(unbiased=False))
        self.scale = float(scale)
        self.models = {"model": self.model}
        self.augment = augment_table(config, "diffusion")

    def wrap(self, wrap):
        self.model_t = wrap(self.model)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=self.cfg["lr"], weight_decay=self.cfg["weightDecay"])

    def latent(self, t1w):
        with torch.no_grad():
            return self.ae.encode_stage_2_inputs(t1w) * self.scale

    def step(self, t1w, flair, epoch, gen):
        x = augment([t1w], self.augment, gen)[0] if self.augment else t1w
        xt, t, target = noised(self.sched, self.cfg, self.latent(x), gen)
        dropped = (torch.rand(x.shape[0], generator=gen) < self.cfg["promptDropout"]).to(self.device)
        self.opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(self.model_t(xt, t, dropped).float(), target.float())
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def validate(self, batches, gen):
        total, n = 0.0, 0
        self.model.eval()
        for t1w, _ in batches:
            xt, t, target = noised(self.sched, self.cfg, self.latent(t1w), gen)
            pred = self.model(xt, t, torch.zeros(t1w.shape[0], device=self.device))
            total += F.mse_loss(pred, target).item() * t1w.shape[0]
            n += t1w.shape[0]
        self.model.train()
        loss = total / n if n else float("nan")
        return loss, ({"loss": loss} if n else {})

    def payload(self):
        c = self.model.context
        return {"model": self.model.unet.state_dict(), "context": {"prompt": c.prompt.data, "null": c.null.data},
                "extra": {"latentScale": self.scale}}

    def train_state(self):
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "scale": self.scale}

    def load_train_state(self, s):
        self.model.load_state_dict(s["model"])
        self.opt.load_state_dict(s["opt"])
        self.scale = s["scale"]


class ControlNetStage:
    def __init__(self, config, job, device, args, gen):
        from generative.networks.nets import ControlNet, DiffusionModelUNet
        self.cfg = config["controlnet"]
        self.device = device
        self.ae = frozen_autoencoder(job, device)
        meta, unet_sd, ctx = load_parent(job, "ldm")
        if ctx is None:
            raise FileNotFoundError(f"{os.path.join(job, 'parents', 'ldm')}: the LDM parent has no context.safetensors")
        self.unet = DiffusionModelUNet(**meta["config"]["ldm"]["network"])
        self.unet.load_state_dict(unet_sd)
        self.unet.to(device).eval()
        for p in self.unet.parameters():
            p.requires_grad_(False)
        dim = int(meta["config"]["ldm"]["network"]["cross_attention_dim"])
        self.context = Context(0, dim, gen, ctx, trainable=False).to(device)
        self.scale = float(meta.get("latentScale") or 0.3)
        self.sched = scheduler_from(self.cfg)
        self.controlnet = ControlNet(**self.cfg["network"])
        # The reference's strict=False copy: the UNet's encoder initialises the ControlNet.
        self.controlnet.load_state_dict(self.unet.state_dict(), strict=False)
        self.controlnet.to(device)
        self.models = {"controlnet": self.controlnet}
        self.augment = augment_table(config, "diffusion")

    def wrap(self, wrap):
        self.controlnet_t = wrap(self.controlnet)
        self.opt = torch.optim.AdamW(self.controlnet.parameters(), lr=self.cfg["lr"], weight_decay=self.cfg["weightDecay"])

    def predict(self, cn, xt, t, ctx, flair):
        down, mid = cn(x=xt, timesteps=t, context=ctx, controlnet_cond=flair, conditioning_scale=self.cfg["conditioningScale"])
        return self.unet(x=xt, timesteps=t, context=ctx, down_block_additional_residuals=down, mid_block_additional_residual=mid)

    def step(self, t1w, flair, epoch, gen):
        if self.augment:
            t1w, flair = augment([t1w, flair], self.augment, gen)
        with torch.no_grad():
            latent = self.ae.encode_stage_2_inputs(t1w) * self.scale
        xt, t, target = noised(self.sched, self.cfg, latent, gen)
        dropped = (torch.rand(t1w.shape[0], generator=gen) < self.cfg["promptDropout"]).to(self.device)
        self.opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(self.predict(self.controlnet_t, xt, t, self.context.batch(dropped), flair).float(), target.float())
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def validate(self, batches, gen):
        total, n = 0.0, 0
        self.controlnet.eval()
        for t1w, flair in batches:
            latent = self.ae.encode_stage_2_inputs(t1w) * self.scale
            xt, t, target = noised(self.sched, self.cfg, latent, gen)
            ctx = self.context.batch(torch.zeros(t1w.shape[0], device=self.device))
            total += F.mse_loss(self.predict(self.controlnet, xt, t, ctx, flair), target).item() * t1w.shape[0]
            n += t1w.shape[0]
        self.controlnet.train()
        loss = total / n if n else float("nan")
        return loss, ({"loss": loss} if n else {})

    def payload(self):
        return {"model": self.controlnet.state_dict(), "context": None, "extra": {"latentScale": self.scale}}

    def train_state(self):
        return {"controlnet": self.controlnet.state_dict(), "opt": self.opt.state_dict()}

    def load_train_state(self, s):
        self.controlnet.load_state_dict(s["controlnet"])
        self.opt.load_state_dict(s["opt"])


# ----------------------------------------------------------------------------------------------
# Main loop
# ----------------------------------------------------------------------------------------------

def main():
    args = parse_args()
    job = os.path.abspath(args.job)
    with open(os.path.join(job, "job.json")) as f:
        manifest = json.load(f)
    if manifest.get("format") != "brainsynth-cluster-job":
        raise SystemExit(f"{job}/job.json: not a brainsynth cluster job")
    config = manifest["config"]
    stage = config["stage"]
    loop = dict(config["loop"])
    if args.epochs:
        loop["epochs"] = args.epochs
    if args.batch_size:
        loop["batchSize"] = args.batch_size
    if args.checkpoint_every >= 0:
        loop["checkpointEvery"] = args.checkpoint_every

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    use_cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if args.threads and not use_cuda:
        torch.set_num_threads(args.threads)
    torch.manual_seed(loop["seed"] + rank)
    gen = torch.Generator().manual_seed(loop["seed"] * 1000 + rank)

    out = Output(os.path.abspath(args.out or os.path.join(job, "output")), rank == 0)

    def on_signal(signum, _frame):
        # scancel, a wall-time limit or torchrun stopping the group: end through the handler below,
        # so status.json says the job failed instead of staying "running" forever.
        raise SystemExit(f"terminated by signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        import monai
        import generative  # noqa: F401
        versions = {"torch": torch.__version__, "monai": monai.__version__}
    except ImportError as err:
        raise SystemExit(f"MONAI Generative Models are not importable ({err}); see README.md for what to install")
    out.write_status(state="running", stage=stage, jobId=manifest["jobId"], worldSize=world,
                     backend=("nccl" if use_cuda else "gloo") if distributed else "single",
                     device=torch.cuda.get_device_name(device) if use_cuda else "cpu", host=socket.gethostname(),
                     versions=versions, step=0, totalSteps=None, error=None,
                     startedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    try:
        run(args, job, manifest, config, loop, stage, rank, world, device, gen, distributed, out)
        out.write_status(state="completed")
    except BaseException as err:  # noqa: BLE001 - the status file must say why the job ended
        out.write_status(state="failed", error=f"{type(err).__name__}: {err}")
        traceback.print_exc()
        raise
    finally:
        if distributed:
            dist.destroy_process_group()


def run(args, job, manifest, config, loop, stage, rank, world, device, gen, distributed, out):
    export_root = manifest.get("data", {}).get("exportRoot")
    size = tuple(config["imageSize"])
    train = load_split(job, "train", export_root)
    val = load_split(job, "validation", export_root)
    if len(train) == 0:
        raise ValueError(f"{job}/data/train.tsv: the training split has no slices")
    bs = loop["batchSize"]

    if stage == "autoencoder":
        st = AutoencoderStage(config, job, device, args, gen)
    elif stage == "ldm":
        first_t1w, _ = to_float(train[:min(bs, len(train))], size, device)
        st = LdmStage(config, job, device, args, gen, first_t1w)
    elif stage == "controlnet":
        st = ControlNetStage(config, job, device, args, gen)
    else:
        raise ValueError(f"job.json: unknown stage {stage!r}")

    def wrap(m):
        if not distributed or not any(p.requires_grad for p in m.parameters()):
            return m
        return DDP(m, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)

    st.wrap(wrap)

    per_rank = len(train) // world
    full = max(1, math.ceil(per_rank / bs)) if per_rank else 0
    if full == 0:
        raise ValueError(f"{len(train)} training slices cannot feed {world} processes")
    steps_per_epoch = min(loop["maxStepsPerEpoch"], full) if loop["maxStepsPerEpoch"] > 0 else full
    total = steps_per_epoch * loop["epochs"]
    if args.max_steps:
        total = min(total, args.max_steps)
    out.write_status(totalSteps=total, stepsPerEpoch=steps_per_epoch)

    step, epoch, best = 0, 0, None
    if args.resume:
        p = out.pointer("last") if rank == 0 else None
        obj = [p]
        if distributed:
            dist.broadcast_object_list(obj, src=0)
        if obj[0]:
            ck = os.path.join(out.ckpt_dir, obj[0]["dir"])
            s = torch.load(os.path.join(ck, "train_state.pt"), map_location=device)
            st.load_train_state(s["stage"])
            step, epoch, best = s["step"], s["epoch"], s.get("best")
            print(f"[rank {rank}] resuming at step {step}", flush=True)

    def val_batches():
        n = len(val)
        cap = loop["maxValBatches"] if loop["maxValBatches"] > 0 else 1 << 30
        for b in range(min(math.ceil(n / bs), cap)):
            yield to_float(val[b * bs:(b + 1) * bs], size, device)

    def validate():
        nonlocal best
        improved = False
        if rank == 0 and len(val) > 0:
            vgen = torch.Generator().manual_seed((loop["seed"] ^ 0x5BD1E995) + epoch)
            loss, metrics = st.validate(val_batches()) if stage == "autoencoder" else st.validate(val_batches(), vgen)
            out.metrics(step, epoch, "validation", metrics)
            if math.isfinite(loss) and (best is None or loss <= best):
                best, improved = loss, True
        return improved

    def checkpoint(kinds):
        if rank == 0:
            pl = st.payload()
            out.checkpoint(stage, step, epoch, kinds, pl["model"], pl["context"], {**pl["extra"], "bestValLoss": best},
                           {"stage": st.train_state(), "step": step, "epoch": epoch, "best": best})
            out.write_status(step=step, epoch=epoch)
        if distributed:
            dist.barrier()

    if step == 0 and loop.get("valAtStart"):
        validate()
    t0 = time.time()
    while epoch < loop["epochs"] and step < total:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(loop["seed"] + epoch))
        mine = order[rank::world][:per_rank]
        done_in_epoch = step - epoch * steps_per_epoch
        for i in range(max(0, done_in_epoch), steps_per_epoch):
            if step >= total:
                break
            idx = mine[i * bs:(i + 1) * bs]
            if len(idx) == 0:
                idx = mine[:bs]
            t1w, flair = to_float(train[idx], size, device)
            losses = st.step(t1w, flair, epoch, gen)
            if distributed:
                # Every rank logs the mean over ranks, so the curve is the global batch's loss.
                v = torch.tensor([losses[k] for k in sorted(losses)], dtype=torch.float64, device=device)
                dist.all_reduce(v)
                losses = {k: float(x) / world for k, x in zip(sorted(losses), v.tolist())}
            bad = [k for k, v in losses.items() if not math.isfinite(v)]
            if bad:
                raise FloatingPointError(f"loss '{bad[0]}' became {losses[bad[0]]} at step {step + 1}; the last good checkpoint is kept")
            step += 1
            out.metrics(step, epoch, "train", losses)
            if rank == 0 and step % 10 == 0:
                out.write_status(step=step, epoch=epoch)
                print(f"step {step}/{total} epoch {epoch + 1} " + " ".join(f"{k} {v:.4g}" for k, v in losses.items())
                      + f" ({step / max(1e-9, time.time() - t0):.2f} steps/s)", flush=True)
            if loop["checkpointEvery"] > 0 and step % loop["checkpointEvery"] == 0 and step < total:
                checkpoint(["last"])
        if step - epoch * steps_per_epoch >= steps_per_epoch:
            epoch += 1
        last = step >= total
        validate_now = last or (loop["valEvery"] > 0 and epoch % loop["valEvery"] == 0)
        improved = validate() if validate_now else False
        if distributed:
            flag = torch.tensor([1 if improved else 0], device=device)
            dist.broadcast(flag, src=0)
            improved = bool(flag.item())
        checkpoint(["last", "best"] if improved else ["last"])
        if last:
            break
    if rank == 0:
        print(f"done: {step} steps in {time.time() - t0:.1f} s on {world} process(es); output in {out.dir}", flush=True)


if __name__ == "__main__":
    main()
