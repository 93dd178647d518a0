"""Word statistics over plain text."""

PUNCTUATION = ".,;:!?\"'()[]"


def tokenize(text):
    """Split text into lowercase words without surrounding punctuation."""
    words = (word.strip(PUNCTUATION).lower() for word in text.split())
    return [word for word in words if word]


def word_frequencies(text):
    """Count how often each word occurs in text."""
    counts = {}
    for word in tokenize(text):
        counts[word] = counts.get(word, 0) + 1
    return counts


def unique_words(text):
    """Return the distinct words of text in order of first occurrence."""
    ordered = []
    for word in tokenize(text):
        # The list keeps the order by itself, so no set is needed.
        if word not in ordered:
            ordered.append(word)
    return ordered
