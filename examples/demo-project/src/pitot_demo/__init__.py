"""A small word and number toolkit, benchmarked by pitot's demo."""

from pitot_demo.numbers import primes_below, running_mean
from pitot_demo.text import tokenize, unique_words, word_frequencies

__all__ = ["primes_below", "running_mean", "tokenize", "unique_words", "word_frequencies"]
