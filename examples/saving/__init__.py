"""Code behind the saving, loading and exporting chapter (docs/saving.md)."""
