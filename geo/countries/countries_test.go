package countries

import "testing"

func TestTable(t *testing.T) {
	if len(table) < 245 {
		t.Errorf("table has %d countries", len(table))
	}
	if c, ok := Lookup("DE"); !ok || c.Continent != "EU" || c.Lat < 47 || c.Lat > 55 {
		t.Errorf("Lookup(DE) = %+v, %v", c, ok)
	}
	if _, ok := Lookup("de"); ok {
		t.Error("codes are upper case")
	}
}
