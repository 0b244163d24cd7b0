package pipeline

// Unit is the unit of a KPI's values (the `unit` label of kpi_info): a count
// stat or a snapshot measure counts, a fraction stat is a ratio, the sum of
// 0/1 samples (a ratio measure) counts the 1s, every other stat keeps the
// measure's unit. config reads targets in the same unit.
func (k KPI) Unit() string {
	m, ok := LookupMeasure(k.Measure)
	switch {
	case !ok:
		return ""
	case k.Stat == StatFractionLE || k.Stat == StatFractionGE:
		return UnitRatio
	case k.Stat == StatCount || m.Snapshot:
		return UnitCount
	case k.Stat == StatSum && m.Unit == UnitRatio:
		return UnitCount
	}
	return m.Unit
}
