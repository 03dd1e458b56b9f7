"""Models on disk: the embedded Whisper base, user-added Whisper models, Argos packages.

Nothing here downloads except ``fetch``, which runs only when a user asks for it on a
connected machine. One file per concern: ``common`` (errors, hashes, folders), one file per
form a model comes in (``openai_pt``, ``ct2``, ``huggingface``, ``argos``, and ``bundle``, the
tar that carries models between machines), the Whisper ``tokenizer`` faster-whisper needs, the
``embedded`` default, the ``registry`` (what is installed, what each engine loads, which
languages a model serves), ``install`` (``models add``), ``catalog`` (the models known by
name) and ``fetch``; ``cli`` holds the ``testimony models`` commands. The names other stages
use are re-exported here, so callers write ``models.resolve_for_engine(...)``.
"""

from ..hashing import sha256_file
from .common import ModelError, argos_dir, whisper_dir
from .ct2 import (
    CT2_FILES,
    CT2_QUANTIZATION,
    convert_ct2_to_checkpoint,
    ct2_dims,
    ct2_to_openai_state,
    read_ct2,
    write_ct2,
)
from .embedded import (
    BASE_DIMS,
    EMBEDDED_CT2_SHA256,
    EMBEDDED_CT2_SIZE,
    EMBEDDED_NAME,
    assemble_embedded_ct2,
    embedded_checkpoint,
)
from .huggingface import (
    hf_dims,
    hf_to_openai_state,
    hf_weight_files,
    read_hf_weights,
    read_safetensors,
)
from .install import SOURCE_FORMATS, add_model, detect_format, parse_languages
from .openai_pt import (
    DIM_KEYS,
    MULTILINGUAL_VOCAB,
    check_whisper_state,
    load_checkpoint,
    save_checkpoint,
    whisper_languages,
)
from .registry import (
    ADD_HINT,
    decoding_language,
    installed_records,
    is_installed,
    languages_label,
    list_models,
    model_for_language,
    model_info,
    prepare_ct2,
    resolve_ct2,
    resolve_for_engine,
    resolve_whisper,
)
from .tokenizer import tokenizer_vocabulary, whisper_tokenizer_json

__all__ = [
    "ADD_HINT",
    "BASE_DIMS",
    "CT2_FILES",
    "CT2_QUANTIZATION",
    "DIM_KEYS",
    "EMBEDDED_CT2_SHA256",
    "EMBEDDED_CT2_SIZE",
    "EMBEDDED_NAME",
    "MULTILINGUAL_VOCAB",
    "ModelError",
    "SOURCE_FORMATS",
    "add_model",
    "argos_dir",
    "assemble_embedded_ct2",
    "check_whisper_state",
    "convert_ct2_to_checkpoint",
    "ct2_dims",
    "ct2_to_openai_state",
    "decoding_language",
    "detect_format",
    "embedded_checkpoint",
    "hf_dims",
    "hf_to_openai_state",
    "hf_weight_files",
    "installed_records",
    "is_installed",
    "languages_label",
    "list_models",
    "load_checkpoint",
    "model_for_language",
    "model_info",
    "parse_languages",
    "prepare_ct2",
    "read_ct2",
    "read_hf_weights",
    "read_safetensors",
    "resolve_ct2",
    "resolve_for_engine",
    "resolve_whisper",
    "save_checkpoint",
    "sha256_file",
    "tokenizer_vocabulary",
    "whisper_dir",
    "whisper_languages",
    "whisper_tokenizer_json",
    "write_ct2",
]
