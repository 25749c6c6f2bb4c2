package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// producer enqueues benchmark tasks. The sql form calls pgtq.enqueue_batch / pgtq.enqueue through pgx;
// the driver form (producer_driver.go) goes through package driver.
type producer interface {
	enqueueBatch(ctx context.Context, queue string, payloads []benchPayload, groups []string) error
	enqueueOne(ctx context.Context, queue string, p benchPayload) error
}

type sqlProducer struct{ pool *pgxpool.Pool }

func (s sqlProducer) enqueueBatch(ctx context.Context, queue string, payloads []benchPayload, groups []string) error {
	bodies := make([]string, len(payloads))
	for i, p := range payloads {
		b, _ := json.Marshal(p)
		bodies[i] = string(b)
	}
	var gk any
	if groups != nil {
		gk = groups
	}
	_, err := s.pool.Exec(ctx, `SELECT count(*) FROM pgtq.enqueue_batch($1, $2::jsonb[], $3::text[])`, queue, bodies, gk)
	if err != nil {
		return fmt.Errorf("enqueue_batch %d tasks: %w", len(payloads), err)
	}
	return nil
}

func (s sqlProducer) enqueueOne(ctx context.Context, queue string, p benchPayload) error {
	b, _ := json.Marshal(p)
	if _, err := s.pool.Exec(ctx, `SELECT pgtq.enqueue($1, $2::jsonb)`, queue, string(b)); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// loadBacklog enqueues n tasks with the batch path before a burn-down. With groups > 0 task i belongs to
// group i%groups and is the (i/groups)-th task of it; every group is enqueued by one goroutine in order,
// so the sequence numbers inside a group follow msg_id order.
func loadBacklog(ctx context.Context, prod producer, queue string, n, groups, parallel, batch int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, parallel)
	for k := range parallel {
		go func() {
			errc <- func() error {
				payloads := make([]benchPayload, 0, batch)
				var keys []string
				if groups > 0 {
					keys = make([]string, 0, batch)
				}
				flush := func() error {
					if len(payloads) == 0 {
						return nil
					}
					err := prod.enqueueBatch(ctx, queue, payloads, keys)
					payloads = payloads[:0]
					if keys != nil {
						keys = keys[:0]
					}
					return err
				}
				for i := range n {
					if groups > 0 {
						if (i%groups)%parallel != k {
							continue
						}
					} else if (i/batch)%parallel != k {
						continue
					}
					p := benchPayload{T: time.Now().UnixNano(), S: int64(i)}
					if groups > 0 {
						p.G = i % groups
						p.S = int64(i / groups)
						keys = append(keys, "g"+strconv.Itoa(p.G))
					}
					payloads = append(payloads, p)
					if len(payloads) == batch {
						if err := flush(); err != nil {
							return err
						}
					}
				}
				return flush()
			}()
		}()
	}
	var first error
	for range parallel {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}
