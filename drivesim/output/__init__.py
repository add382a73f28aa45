"""The files a run leaves: `generate`'s OUT folder (frames, video.mp4, overlay.mp4, labels.jsonl,
manifest.json) in folder.py, and atomic writes (a reader never sees half a file) in files.py.

files.py imports nothing of drivesim but errors, so every layer may use it.
"""
