package deliver

// FromCESU8ForTest is fromCESU8, for the tests of package deliver_test.
var FromCESU8ForTest = fromCESU8

// FindCLIForTest is findCLI, for the tests of package deliver_test.
var FindCLIForTest = findCLI
