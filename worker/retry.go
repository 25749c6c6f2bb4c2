package worker

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// RetryMatcher reports whether err should be retried. A processor retries an error when any of its
// RetryOn matchers accepts it (or when RetryOn is empty). Build matchers with RetryOnError,
// RetryOnType, or write a plain func.
type RetryMatcher func(err error) bool

// RetryOnError matches errors for which errors.Is(err, target) holds.
func RetryOnError(target error) RetryMatcher {
	return func(err error) bool { return errors.Is(err, target) }
}

// RetryOnType matches errors for which errors.As finds an error of type E in the chain.
func RetryOnType[E error]() RetryMatcher {
	return func(err error) bool {
		var target E
		return errors.As(err, &target)
	}
}

// RetryDelay computes how long a failed task waits before its next attempt. attempt is the attempt
// that just failed (1 for the first run). The database stores whole seconds, so a delay is rounded up
// to the next second (a positive delay never becomes zero).
type RetryDelay interface {
	Delay(attempt int) time.Duration
}

// RetryDelayFunc adapts a plain function of the failed attempt to a RetryDelay.
type RetryDelayFunc func(attempt int) time.Duration

// Delay calls f(attempt).
func (f RetryDelayFunc) Delay(attempt int) time.Duration { return f(attempt) }

// FixedDelay waits d before every retry.
func FixedDelay(d time.Duration) RetryDelay {
	return RetryDelayFunc(func(int) time.Duration { return d })
}

// LinearDelay waits base*attempt before a retry, never more than maxDelay (0 means no cap).
func LinearDelay(base, maxDelay time.Duration) RetryDelay {
	return RetryDelayFunc(func(attempt int) time.Duration {
		return capDelay(time.Duration(max(attempt, 1))*base, maxDelay)
	})
}

// ExponentialDelay waits base*2^(attempt-1) before a retry, never more than maxDelay (0 means no cap),
// then subtracts a random share of up to jitter (0..1) of it so that many failing tasks do not retry in
// lockstep.
func ExponentialDelay(base, maxDelay time.Duration, jitter float64) RetryDelay {
	jitter = math.Min(math.Max(jitter, 0), 1)
	return RetryDelayFunc(func(attempt int) time.Duration {
		exp := math.Pow(2, float64(max(attempt, 1)-1))
		d := capDelay(time.Duration(math.Min(float64(base)*exp, math.MaxInt64/2)), maxDelay)
		if jitter > 0 {
			d -= time.Duration(rand.Float64() * jitter * float64(d))
		}
		return d
	})
}

func capDelay(d, maxDelay time.Duration) time.Duration {
	if maxDelay > 0 && d > maxDelay {
		return maxDelay
	}
	return d
}

// backoff returns base*2^(n-1) capped at maxDelay, minus up to 25% jitter; n < 1 yields base.
func backoff(n int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d - time.Duration(rand.Float64()*0.25*float64(d))
}
