"""Getting clips in: one clip file to a validated `Clip` (clip.py, its frontmatter
read by frontmatter_yaml.py), finding clip files under the paths a user names
(discover.py), and keeping an index in step with them (sync.py), sharded
(sharding.py), through one entry point (update.py)."""

#: What is read as a clip file when found in a folder (a file named directly is read
#: whatever its name).
CLIP_SUFFIXES = (".md", ".txt", ".markdown")
#: Files larger than this are skipped (bounds the work per clip).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
