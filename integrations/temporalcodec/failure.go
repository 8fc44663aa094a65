package temporalcodec

import (
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// FailureConverter moves every error's message and stack trace into the
// failure's encoded attributes, encrypted by kr; history keeps only the
// placeholder "Encoded failure". Without it an activity error's message
// ("auth failed for key …", a URL with a signature) is stored in clear, since
// failure messages are not payloads. Set it on every client and worker next
// to DataConverter (client.Options.FailureConverter).
func FailureConverter(kr *Keyring) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(kr),
		EncodeCommonAttributes: true,
	})
}
