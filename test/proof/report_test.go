package proof

import "testing"

// The proofs' journal summary counts the rare paths that keep a paste of
// ours from being stranded in an input: an earlier paste erased, a left
// paste submitted (only when the submit went).
func TestStatsCountsErasedAndLeftPastes(t *testing.T) {
	st := Stats([]JournalLine{
		{Event: "attempt", OK: true, Erased: true},
		{Event: "attempt", OK: true, Landing: "left"},
		{Event: "attempt", OK: false, Landing: "left", Err: "deliver: a person used the keyboard or mouse before the submit"},
		{Event: "attempt", OK: true, Landing: "seen"},
		{Event: "done"},
	})
	if st.Erased != 1 || st.LeftSubmitted != 1 || st.Attempts != 4 || st.FailedAttempts != 1 || st.Done != 1 {
		t.Fatalf("stats %+v", st)
	}
}
