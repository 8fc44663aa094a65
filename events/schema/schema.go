// Package schema embeds the JSON Schema files of the event contracts so the
// decoder validates against exactly the file that is documented in the repo.
package schema

import _ "embed"

// BreachEventURL is the $id of the breach event schema.
const BreachEventURL = "https://keyresponse.io/schemas/breach-event.schema.json"

// BreachEvent is events/schema/breach-event.schema.json.
//
//go:embed breach-event.schema.json
var BreachEvent []byte
