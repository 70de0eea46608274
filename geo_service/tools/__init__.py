"""Operations on layers (analysis helpers)."""
