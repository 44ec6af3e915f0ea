#!/usr/bin/env python3
"""Train the tiny specialist: a gemma3-architecture model with Gemma 3's real vocabulary and chat
template, hidden size 32, 2 layers, tied embeddings, on chat-format JSONL as the project's
"Export fine-tuning dataset" writes it (one {"messages": [...]} object per line). Loss only on the
answer tokens. Seeded and reproducible; runs with no network (the tokenizer file travels along).

  python3 training/train.py --data training/data --tokenizer PATH/tokenizer.json --out OUT
  python3 training/train.py --render-only FILE.jsonl --tokenizer PATH   # no torch needed

Writes OUT/specialist-a.safetensors and OUT/specialist-b.safetensors (F16; the embedding is split
across both so that each stays under 16 MB) and OUT/metrics.json.
"""
import argparse
import json
import os
import random
import sys
import time

BOS, SOT, EOT = "<bos>", "<start_of_turn>", "<end_of_turn>"

# The shape: the smallest the issue allows (hidden 32) so the committed weights stay under 20 MB.
SHAPE = dict(vocab_size=262144, hidden_size=32, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=2, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
             sliding_window=512, max_position_embeddings=2048, rms_norm_eps=1e-6, tie_word_embeddings=True)


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            msgs = row.get("messages")
            if not isinstance(msgs, list) or not msgs or msgs[-1].get("role") != "assistant":
                raise ValueError(f"{path}:{n}: expected a messages list ending with an assistant turn")
            for m in msgs:
                if m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
                    raise ValueError(f"{path}:{n}: bad message {m!r}")
            rows.append(msgs)
    return rows


def render(messages):
    """(prompt, answer) exactly as the runtime renders Gemma 3's template: the system text is
    prepended to the first user turn, both trimmed; the answer ends the model turn."""
    system = "".join(m["content"] for m in messages if m["role"] == "system").strip()
    user = next(m["content"] for m in messages if m["role"] == "user").strip()
    answer = messages[-1]["content"]
    prompt = f"{BOS}{SOT}user\n" + (system + "\n\n" if system else "") + user + f"{EOT}\n{SOT}model\n"
    return prompt, answer + EOT


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="training/data")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", default="out")
    ap.add_argument("--render-only", help="print the rendered training texts of a JSONL file as JSON and exit")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    if args.render_only:
        rows = read_jsonl(args.render_only)
        json.dump([list(render(m)) for m in rows], sys.stdout, ensure_ascii=False)
        return

    import torch
    from tokenizers import Tokenizer
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    tok = Tokenizer.from_file(args.tokenizer)

    def encode(rows):
        out = []
        for msgs in rows:
            p, a = render(msgs)
            pi = tok.encode(p, add_special_tokens=False).ids
            ai = tok.encode(a, add_special_tokens=False).ids
            out.append((pi, ai))
        return out

    train = encode(read_jsonl(os.path.join(args.data, "train.jsonl")))
    held = encode(read_jsonl(os.path.join(args.data, "heldout.jsonl")))
    assert train[0][0][:2] == [2, 105], f"special tokens were not parsed: {train[0][0][:5]}"

    cfg = Gemma3TextConfig(**SHAPE)
    model = Gemma3ForCausalLM(cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)

    def batch(items):
        L = max(len(p) + len(a) for p, a in items)
        ids = torch.zeros((len(items), L), dtype=torch.long)
        labels = torch.full((len(items), L), -100, dtype=torch.long)
        mask = torch.zeros((len(items), L), dtype=torch.long)
        for i, (p, a) in enumerate(items):
            seq = p + a
            ids[i, : len(seq)] = torch.tensor(seq)
            labels[i, len(p): len(seq)] = torch.tensor(a)
            mask[i, : len(seq)] = 1
        return ids.to(dev), labels.to(dev), mask.to(dev)

    t0 = time.time()
    model.train()
    losses = []
    for step in range(args.steps):
        items = random.sample(train, args.batch)
        ids, labels, mask = batch(items)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 200 == 0 or step == args.steps - 1:
            print(f"step {step} loss {sum(losses[-50:]) / len(losses[-50:]):.4f}", flush=True)
    train_s = time.time() - t0

    @torch.no_grad()
    def exact(items, limit=None):
        model.eval()
        ok = 0
        for p, a in items[:limit]:
            ids = torch.tensor([p], device=dev)
            out = []
            for _ in range(len(a) + 4):
                nxt = int(model(input_ids=ids).logits[0, -1].argmax())
                out.append(nxt)
                if nxt == 106:
                    break
                ids = torch.cat([ids, torch.tensor([[nxt]], device=dev)], dim=1)
            ok += out == a
        return ok, len(items[:limit])

    held_ok, held_n = exact(held)
    train_ok, train_n = exact(train, 300)
    metrics = dict(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed, train_rows=len(train),
                   final_loss=sum(losses[-50:]) / 50, train_seconds=round(train_s, 1),
                   heldout_exact=f"{held_ok}/{held_n}", train_exact=f"{train_ok}/{train_n}",
                   shape=SHAPE, device=torch.cuda.get_device_name() if dev == "cuda" else "cpu",
                   torch=torch.__version__)
    print(json.dumps(metrics), flush=True)

    from safetensors.torch import save_file
    sd = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    emb = sd.pop("model.embed_tokens.weight")
    half = emb.shape[0] // 2
    os.makedirs(args.out, exist_ok=True)
    meta = {"format": "pt", "note": "tiny specialist trained by Prompt Contracts; NOT Gemma 3 270M"}
    save_file({"model.embed_tokens.weight.part0": emb[:half].contiguous()}, os.path.join(args.out, "specialist-a.safetensors"), metadata=meta)
    save_file({"model.embed_tokens.weight.part1": emb[half:].contiguous(), **sd}, os.path.join(args.out, "specialist-b.safetensors"), metadata=meta)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)


if __name__ == "__main__":
    main()
