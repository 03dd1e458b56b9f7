"""A decoded word in time, in the one shape every engine hands back.

Its own module so that engine modules need not import the package that loads them.
"""


def word(start: float, end: float, text: str, probability: float) -> dict:
    """One word in time, as the transcript stores it (times in seconds of the decoded audio)."""
    return {"start": float(start), "end": float(end), "text": text.strip(), "probability": float(probability)}
