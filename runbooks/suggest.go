package runbooks

import "fmt"

// closest returns the candidate nearest to s by edit distance (with
// transpositions, so "kye" is one edit from "key"), if it is near enough to
// be a plausible typo.
func closest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	// One edit for short words, a few more for long dotted names: "a0" must
	// not suggest "id", "revoke_kye" should suggest "revoke_key".
	limit := 1 + len(s)/8
	for _, c := range candidates {
		if diff := len(c) - len(s); diff > limit || -diff > limit {
			continue // the distance is at least the length difference
		}
		d := editDistance(s, c)
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD < 0 {
		return "", false
	}
	return best, bestD <= limit && bestD > 0
}

// didYouMean formats " (did you mean x?)" or nothing.
func didYouMean(s string, candidates []string) string {
	if c, ok := closest(s, candidates); ok {
		return fmt.Sprintf(" (did you mean %s?)", c)
	}
	return ""
}

// editDistance is the optimal-string-alignment distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// maxHintComparisons bounds how many candidate names one validation compares
// for "did you mean" hints over the runbook's own names (step ids, inputs):
// each unknown reference is compared with every id, so a generated file of
// N steps each naming a missing step cost N² edit distances (4,000 steps,
// 370 KB: 10 s). Past the budget findings keep their message, without a hint.
const maxHintComparisons = 50_000

// hint is didYouMean within the checker's comparison budget.
func (v *checker) hint(s string, candidates func() []string, n int) string {
	if v.hintBudget < n {
		return ""
	}
	v.hintBudget -= n
	return didYouMean(s, candidates())
}
