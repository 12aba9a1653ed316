package deliver

// NewDesktop opens this platform's desktop: Win32 on Windows.
func NewDesktop() (Desktop, error) { return NewWindows() }
