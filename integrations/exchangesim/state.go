package exchangesim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Perms are the rights a simulated key holds. Dialects translate their
// exchange's permission vocabulary to and from these.
type Perms struct {
	Read     bool `json:"read"`
	Trade    bool `json:"trade"`
	Futures  bool `json:"futures"`
	Withdraw bool `json:"withdraw"`
	// ManageKeys lets the key create/modify/delete its sub-accounts' keys
	// (the management credential).
	ManageKeys bool `json:"manage_keys"`
}

// Account is a main account (Parent == "") or a sub-account.
type Account struct {
	ID       string `json:"id"` // simulator id, "acc-3"
	Exchange string `json:"exchange"`
	Name     string `json:"name"`  // OKX subAcct name
	Email    string `json:"email"` // Binance sub-account email
	UID      string `json:"uid"`   // Bybit numeric uid
	Parent   string `json:"parent,omitempty"`
}

// Matches tells whether ref names this account by id, name, email or uid.
func (a Account) Matches(ref string) bool {
	return ref != "" && (ref == a.ID || ref == a.Name || ref == a.Email || ref == a.UID)
}

// Key is a simulated API key. Copies are handed out; mutate through
// Sim.UpdateKey.
type Key struct {
	ID         string    `json:"id"` // the public API key string
	Secret     string    `json:"secret,omitempty"`
	Passphrase string    `json:"passphrase,omitempty"`
	Exchange   string    `json:"exchange"`
	Account    string    `json:"account"` // Account.ID
	Label      string    `json:"label"`
	Perms      Perms     `json:"perms"`
	IPs        []string  `json:"ips,omitempty"` // empty = any IP
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Revoked    bool      `json:"revoked"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	// Leaked marks a key the attacker knows (drills and demos).
	Leaked bool `json:"leaked,omitempty"`
}

// Public returns the key without secret and passphrase.
func (k Key) Public() Key { k.Secret, k.Passphrase = "", ""; return k }

// AllowsIP tells whether ip may use the key.
func (k Key) AllowsIP(ip string) bool {
	if len(k.IPs) == 0 {
		return true
	}
	for _, a := range k.IPs {
		if a == ip {
			return true
		}
	}
	return false
}

// Order is a resting order.
type Order struct {
	ID            string    `json:"id"`
	ClientOrderID string    `json:"client_order_id,omitempty"`
	Account       string    `json:"account"`
	KeyID         string    `json:"key_id"`
	Symbol        string    `json:"symbol"` // exchange market id, "BTCUSDT"
	Side          string    `json:"side"`   // "buy" / "sell"
	Type          string    `json:"type"`   // "limit" / "market"
	Price         float64   `json:"price"`
	Amount        float64   `json:"amount"`
	Status        string    `json:"status"` // "open", "canceled", "filled"
	CreatedAt     time.Time `json:"created_at"`
}

// Withdrawal is a withdrawal the simulator accepted.
type Withdrawal struct {
	ID      string    `json:"id"`
	Account string    `json:"account"`
	KeyID   string    `json:"key_id"`
	Asset   string    `json:"asset"`
	Amount  float64   `json:"amount"`
	Address string    `json:"address"`
	At      time.Time `json:"at"`
}

// Market is one spot market every dialect lists.
type Market struct {
	Base, Quote string
	Price       float64 // a reference price for market orders
}

// ID is the concatenated market id ("BTCUSDT"); dialects with another
// format (OKX "BTC-USDT") build their own from Base and Quote.
func (m Market) ID() string { return m.Base + m.Quote }

// DefaultMarkets are the spot markets served unless Options.Markets says
// otherwise.
var DefaultMarkets = []Market{
	{Base: "BTC", Quote: "USDT", Price: 60000},
	{Base: "ETH", Quote: "USDT", Price: 3000},
	{Base: "SOL", Quote: "USDT", Price: 150},
}

// Errors returned by the state methods; dialects map them to their
// exchange's error bodies.
var (
	ErrNoAccount = errors.New("account not found")
	ErrNoKey     = errors.New("api key not found")
	ErrNoOrder   = errors.New("order not found")
	ErrFunds     = errors.New("insufficient balance")
	// ErrNotPermitted: the key lacks the right (e.g. ManageKeys, Withdraw).
	ErrNotPermitted = errors.New("key not permitted")
)

type state struct {
	seq         int
	accounts    map[string]*Account // by id
	keys        map[string]*Key     // by exchange+"/"+key id
	balances    map[string]map[string]float64
	orders      map[string]*Order // by order id
	orderSeq    []string          // order ids in creation order
	withdrawals []Withdrawal
}

func newState() *state {
	return &state{
		accounts: map[string]*Account{},
		keys:     map[string]*Key{},
		balances: map[string]map[string]float64{},
		orders:   map[string]*Order{},
	}
}

func keyIndex(exchange, id string) string { return exchange + "/" + id }

func randomToken(nbytes int) string {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// CreateAccount adds a main account (parent "") or a sub-account of parent.
// Empty email/uid get generated values so every dialect can address it.
func (s *Sim) CreateAccount(exchange, name, parent string) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if parent != "" {
		p, ok := s.st.accounts[parent]
		if !ok || p.Exchange != exchange {
			return Account{}, fmt.Errorf("parent %q: %w", parent, ErrNoAccount)
		}
	}
	s.st.seq++
	a := &Account{
		ID:       "acc-" + strconv.Itoa(s.st.seq),
		Exchange: exchange,
		Name:     name,
		Email:    strings.ToLower(name) + "@sim.invalid",
		UID:      strconv.Itoa(100000 + s.st.seq),
		Parent:   parent,
	}
	s.st.accounts[a.ID] = a
	s.st.balances[a.ID] = map[string]float64{}
	return *a, nil
}

// Account returns the account with the given id.
func (s *Sim) Account(id string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.accounts[id]
	if !ok {
		return Account{}, false
	}
	return *a, true
}

// Accounts lists the accounts of an exchange ("" = all), by id order.
func (s *Sim) Accounts(exchange string) []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Account
	for _, a := range s.st.accounts {
		if exchange == "" || a.Exchange == exchange {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return accSeq(out[i].ID) < accSeq(out[j].ID) })
	return out
}

func accSeq(id string) int { n, _ := strconv.Atoi(strings.TrimPrefix(id, "acc-")); return n }

// SubAccount finds a sub-account of parent by id, name, email or uid.
func (s *Sim) SubAccount(parent, ref string) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.st.accounts {
		if a.Parent == parent && a.Matches(ref) {
			return *a, nil
		}
	}
	return Account{}, fmt.Errorf("sub-account %q: %w", ref, ErrNoAccount)
}

// KeySpec describes a key to create.
type KeySpec struct {
	Exchange   string   `json:"exchange"`
	Account    string   `json:"account"` // Account.ID
	Label      string   `json:"label"`
	Perms      Perms    `json:"perms"`
	IPs        []string `json:"ips"`
	Passphrase string   `json:"passphrase,omitempty"`
}

// CreateKey creates a key with a fresh random id and secret.
func (s *Sim) CreateKey(spec KeySpec) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.st.accounts[spec.Account]
	if !ok || a.Exchange != spec.Exchange {
		return Key{}, fmt.Errorf("account %q: %w", spec.Account, ErrNoAccount)
	}
	k := &Key{
		ID:         randomToken(24),
		Secret:     randomToken(32),
		Passphrase: spec.Passphrase,
		Exchange:   spec.Exchange,
		Account:    spec.Account,
		Label:      spec.Label,
		Perms:      spec.Perms,
		IPs:        append([]string(nil), spec.IPs...),
		CreatedAt:  s.now(),
	}
	s.st.keys[keyIndex(k.Exchange, k.ID)] = k
	return *k, nil
}

// Key returns a copy of a key (revoked ones included).
func (s *Sim) Key(exchange, id string) (Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.st.keys[keyIndex(exchange, id)]
	if !ok {
		return Key{}, false
	}
	return *k, true
}

// Keys lists the keys of an account ("" = every account of the exchange),
// oldest first. Revoked keys are included only when withRevoked.
func (s *Sim) Keys(exchange, account string, withRevoked bool) []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Key
	for _, k := range s.st.keys {
		if k.Exchange != exchange || (account != "" && k.Account != account) || (k.Revoked && !withRevoked) {
			continue
		}
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// UpdateKey changes a live key under the lock.
func (s *Sim) UpdateKey(exchange, id string, f func(k *Key) error) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.st.keys[keyIndex(exchange, id)]
	if !ok || k.Revoked {
		return Key{}, ErrNoKey
	}
	if err := f(k); err != nil {
		return Key{}, err
	}
	return *k, nil
}

// RevokeKey marks a key revoked; ErrNoKey when unknown or already revoked.
func (s *Sim) RevokeKey(exchange, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.st.keys[keyIndex(exchange, id)]
	if !ok || k.Revoked {
		return ErrNoKey
	}
	k.Revoked, k.RevokedAt = true, s.now()
	return nil
}

// LeakKey marks a key as known to the attacker and returns it with its
// secret (drills hand it to the attacker client).
func (s *Sim) LeakKey(exchange, id string) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.st.keys[keyIndex(exchange, id)]
	if !ok {
		return Key{}, ErrNoKey
	}
	k.Leaked = true
	return *k, nil
}

// SetBalance sets an account's free balance of an asset.
func (s *Sim) SetBalance(account, asset string, amount float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.balances[account] == nil {
		s.st.balances[account] = map[string]float64{}
	}
	s.st.balances[account][asset] = amount
}

// Balances returns a copy of an account's balances.
func (s *Sim) Balances(account string) map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]float64{}
	for a, v := range s.st.balances[account] {
		out[a] = v
	}
	return out
}

// PlaceOrder rests an order on the book (limit) or records it filled
// (market). Balances are not moved: the simulator checks keys, not P&L.
func (s *Sim) PlaceOrder(o Order) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.accounts[o.Account]; !ok {
		return Order{}, ErrNoAccount
	}
	s.st.seq++
	o.ID = strconv.Itoa(1000000 + s.st.seq)
	o.CreatedAt = s.now()
	o.Status = "open"
	if o.Type == "market" {
		o.Status = "filled"
	}
	s.st.orders[o.ID] = &o
	s.st.orderSeq = append(s.st.orderSeq, o.ID)
	return o, nil
}

// OpenOrders lists an account's open orders, optionally for one market id.
func (s *Sim) OpenOrders(account, symbol string) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Order
	for _, id := range s.st.orderSeq {
		o := s.st.orders[id]
		if o.Account == account && o.Status == "open" && (symbol == "" || o.Symbol == symbol) {
			out = append(out, *o)
		}
	}
	return out
}

// CancelOrders cancels an account's open orders (one market id or all) and
// returns them.
func (s *Sim) CancelOrders(account, symbol string) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Order
	for _, id := range s.st.orderSeq {
		o := s.st.orders[id]
		if o.Account == account && o.Status == "open" && (symbol == "" || o.Symbol == symbol) {
			o.Status = "canceled"
			out = append(out, *o)
		}
	}
	return out
}

// Withdraw records a withdrawal and debits the balance.
func (s *Sim) Withdraw(w Withdrawal) (Withdrawal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bal := s.st.balances[w.Account]
	if bal == nil || bal[w.Asset] < w.Amount {
		return Withdrawal{}, ErrFunds
	}
	bal[w.Asset] -= w.Amount
	s.st.seq++
	w.ID = "wd-" + strconv.Itoa(s.st.seq)
	w.At = s.now()
	s.st.withdrawals = append(s.st.withdrawals, w)
	return w, nil
}

// Withdrawals lists accepted withdrawals.
func (s *Sim) Withdrawals() []Withdrawal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Withdrawal(nil), s.st.withdrawals...)
}

// Markets returns the spot markets served.
func (s *Sim) Markets() []Market { return append([]Market(nil), s.markets...) }

// MarketByID finds a market by its concatenated id ("BTCUSDT").
func (s *Sim) MarketByID(id string) (Market, bool) {
	for _, m := range s.markets {
		if m.ID() == id {
			return m, true
		}
	}
	return Market{}, false
}

// CancelOrder cancels one open order of an account by id.
func (s *Sim) CancelOrder(account, id string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.st.orders[id]
	if !ok || o.Account != account || o.Status != "open" {
		return Order{}, ErrNoOrder
	}
	o.Status = "canceled"
	return *o, nil
}
