"""Matching: encoders, embeddings in pgvector, retrieval, the reciprocal ranker and its explanations."""
