package token

// The known-answer vectors of docs/qr-token.md.
const (
	// Version 2: a fixed handle and what it is printed as.
	vectorHandle      = "5f0e8a1c93d2477ba0c4e61b28f3d905"
	vectorHandleToken = "L4HIUHET2JDXXIGE4YNSR46ZAU"
	vectorHandleCode  = "CPNC-UVFN"

	// Version 1 (legacy), signed once with vectorKey.
	vectorToken  = "AHMRCIRTIRKWM54IAAD5DULAACTICAIAANN4MJTEAEBAGBAFAYDQRDAAW5JATI6WLJVE4HY2BIFQZ2TCAKVG4BQLVBWIC3QF7XOU322TOIFKWMQN77RANBCKETWLCT4I36XAGOSG2EO3KL5V33RDHU76RATPVMXF66G7Q45CMZ3U233LVELA"
	vectorCode   = "AEK2-XJO2"
	vectorMale   = "8c00b75209a3"
	vectorFemale = "d65a6a4e1f1a"
)
