"""Hybrid retrieval: dense (FAISS over sentence embeddings) + BM25, fused by reciprocal rank."""
