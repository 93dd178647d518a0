"""asv benchmarks for pitot_demo, sized to finish in seconds."""

from pitot_demo import primes_below, running_mean, unique_words, word_frequencies

# Fewer samples than asv's defaults keep a whole `asv continuous` short;
# the demo's regression is large enough to show through the extra noise.
rounds = 2
repeat = (3, 6, 0.5)
warmup_time = 0.02

SYLLABLES = ["ka", "lo", "mi", "nu", "pe", "ri", "so", "ta", "vu", "ze"]


def make_text(word_count, vocabulary_size):
    """Build a repeatable text of word_count words drawn from vocabulary_size words."""
    vocabulary = [
        SYLLABLES[index % 10] + SYLLABLES[index // 10 % 10] + SYLLABLES[index // 100 % 10]
        for index in range(vocabulary_size)
    ]
    words = [vocabulary[(index * 7919) % vocabulary_size] for index in range(word_count)]
    return " ".join(words) + "."


class TextSuite:
    def setup(self):
        self.text = make_text(word_count=2000, vocabulary_size=400)

    def time_word_frequencies(self):
        word_frequencies(self.text)

    def time_unique_words(self):
        unique_words(self.text)

    def track_unique_word_count(self):
        return len(unique_words(self.text))

    track_unique_word_count.unit = "words"

    def peakmem_word_frequencies(self):
        word_frequencies(self.text * 20)


class PrimesSuite:
    params = [1_000, 20_000]
    param_names = ["limit"]

    def time_primes_below(self, limit):
        primes_below(limit)


def time_running_mean():
    running_mean(list(range(5_000)), window=25)
