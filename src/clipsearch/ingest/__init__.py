"""Getting clips in: one clip file to a validated `Clip` (clip.py), finding clip files
under the paths a user names (discover.py), and keeping an index in step with them
(sync.py)."""
