"""Names in an intent model folder and the manifest's vocabulary (no imports: every module of
``ml.intent`` may read them without importing another's code)."""

MANIFEST = "deskpilot_intent.json"
# Training strategies (``TrainConfig.strategy``) and the two architectures they produce.
FROZEN, FINETUNE, SEQCLS = "frozen_head", "finetune", "sequence_classification"
MEAN_POOL = "mean_pool_linear"  # encoder + mean pooling + linear head: frozen_head and finetune
HEAD_FILE = "head.safetensors"  # the linear head of a mean-pool model (weight, bias)
SECOND_DIR = "second_opinion"  # a model's second opinion (ml.intent.second_opinion)
# manifest section naming the stored frozen encoder (ml.embeddings.encoder_store.EncoderRef)
ENCODER = "encoder"
