"""Build a tiny, randomly initialised FLUX.1 pipeline for trying the batch endpoint on a CPU.

It has the structure of FLUX.1-dev (a FluxTransformer2DModel with guidance embedding, a CLIP and a
T5 text encoder with their tokenizers, an AutoencoderKL with 8x downsampling and the
flow-matching scheduler) but with layers a few dozen units wide, so the whole folder is well
under 1 MB and a 64x64 image takes well under a second. It draws noise, not pictures: it is for
testing the plumbing. Nothing is downloaded: the tokenizers are trained here on a few sentences.

    python make_tiny_flux.py                  # writes ./tiny-flux
    python make_tiny_flux.py --output /tmp/tiny-flux

The folder is what ``FluxPipeline.save_pretrained`` writes, exactly like the real model's, so
``FluxPipeline.from_pretrained(folder)`` loads it and the scoring script cannot tell them apart.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
)
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    T5Config,
    T5EncoderModel,
    T5TokenizerFast,
)

HERE = Path(__file__).resolve().parent

#: What the tokenizers learn their vocabularies from: the sample prompts and some more.
CORPUS = [
    "She wore a raspberry beret, the kind you find in a second-hand store.",
    "In a big country, dreams stay with you, like a lover's voice fires the mountain side.",
    "A lighthouse on a rocky coast at dusk, waves crashing, oil painting.",
    "A red fox sleeping in the snow under a pine tree, photograph.",
    "A bowl of ramen with a soft boiled egg, studio lighting, 35mm.",
    "An astronaut riding a horse on the moon, digital art.",
    "A watercolor of a small village by a lake in spring.",
    "A cat wearing sunglasses sitting on a skateboard in the city.",
    "Portrait of an old fisherman with a grey beard, dramatic light.",
    "A futuristic train crossing a bridge over a canyon at sunrise.",
    "Close-up of a hummingbird drinking from a purple flower.",
    "A cozy library with tall shelves, warm lamps and a sleeping dog.",
    "The quick brown fox jumps over the lazy dog 0123456789 times!",
]

# The CLIP tokenizer's word splitting (as in transformers' CLIPTokenizer).
CLIP_SPLIT = (
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
    r"|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
)
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def train_clip_tokenizer(folder: Path) -> CLIPTokenizer:
    """A byte-level BPE with CLIP's conventions (``</w>`` word ends), saved as vocab + merges."""
    bpe = Tokenizer(models.BPE(unk_token=EOS, end_of_word_suffix="</w>"))
    bpe.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    trainer = trainers.BpeTrainer(
        vocab_size=len(alphabet) * 2 + 300,
        initial_alphabet=alphabet,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS, trainer)
    merges = [m if isinstance(m, str) else " ".join(m) for m in _model_json(bpe)["merges"]]

    # CLIP's vocabulary layout: every byte, every byte ending a word, the merges, the specials.
    tokens = alphabet + [a + "</w>" for a in alphabet] + [m.replace(" ", "") for m in merges]
    tokens += [BOS, EOS]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(tokens))}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )
    return CLIPTokenizer.from_pretrained(folder, model_max_length=77)


def train_t5_tokenizer() -> T5TokenizerFast:
    """A SentencePiece-style Unigram model with T5's special tokens, saved as tokenizer.json."""
    unigram = Tokenizer(models.Unigram())
    unigram.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    unigram.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(prepend_scheme="always")]
    )
    unigram.decoder = decoders.Metaspace(prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
        show_progress=False,
    )
    unigram.train_from_iterator(CORPUS, trainer)
    vocab = [(piece, float(score)) for piece, score in _model_json(unigram)["vocab"]]
    return T5TokenizerFast(vocab=vocab, extra_ids=0, model_max_length=512)


def _model_json(tokenizer: Tokenizer) -> dict:
    return json.loads(tokenizer.to_str())["model"]


def build(output: Path, seed: int = 0) -> Path:
    """Write the tiny pipeline to ``output`` (a ``save_pretrained`` folder) and return it."""
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = train_clip_tokenizer(Path(scratch))
    tokenizer_2 = train_t5_tokenizer()

    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="gelu",
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            feed_forward_proj="gated-gelu",
            pad_token_id=tokenizer_2.pad_token_id,
            eos_token_id=tokenizer_2.eos_token_id,
        )
    )
    # Four blocks: 8x downsampling as in FLUX.1, so 64x64 pixels are 8x8 latents, 4x4 tokens.
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.1159,
        scaling_factor=0.3611,
    )
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=vae.config.latent_channels * 4,  # latents are packed in 2x2 patches
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=text_encoder_2.config.d_model,
        pooled_projection_dim=text_encoder.config.projection_dim,
        guidance_embeds=True,  # FLUX.1-dev is guidance-distilled
        axes_dims_rope=(4, 4, 8),  # sums to attention_head_dim
    )
    # FLUX.1-dev's scheduler settings.
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=1000,
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    output.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=HERE / "tiny-flux", help="folder to write the pipeline to"
    )
    args = parser.parse_args()
    folder = build(args.output.resolve())
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"tiny FLUX pipeline written to {folder} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
