"""Number sequences."""


def primes_below(limit):
    """Return the primes smaller than limit, by the sieve of Eratosthenes."""
    if limit < 3:
        return []
    is_prime = bytearray([1]) * limit
    is_prime[0] = is_prime[1] = 0
    for candidate in range(2, int(limit**0.5) + 1):
        if is_prime[candidate]:
            is_prime[candidate * candidate :: candidate] = bytearray(
                len(range(candidate * candidate, limit, candidate))
            )
    return [number for number, flag in enumerate(is_prime) if flag]


def running_mean(values, window):
    """Return the mean of each run of window consecutive values."""
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    means = []
    total = sum(values[:window])
    if len(values) >= window:
        means.append(total / window)
    for index in range(window, len(values)):
        total += values[index] - values[index - window]
        means.append(total / window)
    return means
