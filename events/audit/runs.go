package audit

// Runs splits one incident's records into its occurrences (one per
// workflow run: the same <runbook>:<bot> id is reused when the bot is
// breached again), in the order each first appeared. The hash chain spans
// the whole subject; Verify the full list, project each run on its own.
func Runs(recs []Record) [][]Record {
	idx := map[string]int{}
	var out [][]Record
	for _, r := range recs {
		i, ok := idx[r.Run]
		if !ok {
			i = len(out)
			idx[r.Run] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// Latest returns the records of the most recent occurrence.
func Latest(recs []Record) []Record {
	runs := Runs(recs)
	if len(runs) == 0 {
		return nil
	}
	return runs[len(runs)-1]
}
