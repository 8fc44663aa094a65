package ingest

import (
	"sync"
	"sync/atomic"
)

// parallel runs fn(0..n-1) on at most workers goroutines, handing out
// indexes in increasing order, and returns when all are done. n == 1 runs
// inline: a lone event pays no goroutine hand-off.
func parallel(n, workers int, fn func(i int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
