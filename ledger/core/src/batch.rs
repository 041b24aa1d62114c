//! Batch verification: many transactions' proofs checked with one multiscalar
//! multiplication.
//!
//! # The maths
//!
//! `bulletproofs` verifies an aggregated range proof (with `n = 64` bits, `m`
//! values) by checking that one linear combination of points is the identity
//! (`RangeProof::verify_multiple`, the "mega check"):
//!
//! ```text
//!   A + x·S + c·x·T₁ + c·x²·T₂ + Σ uᵢ²·Lᵢ + Σ uᵢ⁻²·Rᵢ
//!     + (−ẽ − c·t̃ₓ)·B̃ + (w·(tₓ − a·b) + c·(δ(y,z) − tₓ))·B
//!     + Σᵢ (−z − a·sᵢ)·Gᵢ + Σᵢ (z + y⁻ⁱ·(z²·zʲ·2^bit − b·s⁻¹ᵢ))·Hᵢ + Σⱼ c·z²·zʲ·Vⱼ  = 0
//! ```
//!
//! where `x, y, z, w, uᵢ` are Fiat–Shamir challenges from the proof's transcript,
//! `c` is the verifier's random scalar, `i = j·64 + bit`, and `sᵢ` are the
//! inner-product verification scalars (`s⁻¹ᵢ = s_{nm−1−i}`). A Schnorr signature
//! `(R, s)` on public key `P` over generator `G` is the check `s·G − e·P − R = 0`.
//!
//! For a batch, each check `k` is multiplied by an independent random weight
//! `ρₖ` and all are summed: `Σ ρₖ·checkₖ = 0`. If any check is non-zero the sum is
//! non-zero except with probability about 2⁻²⁵² over the weights. The generators
//! `B, B̃, Gᵢ, Hᵢ` are shared, so their coefficients add up and the batch costs one
//! multiscalar multiplication over `2 + 2·64·m_max` shared points (and one point
//! `Σ (Hᵢ − Gᵢ)` per aggregation size present) plus each proof's own
//! `4 + 2·log₂(64·m) + m` points and each signature's two.
//!
//! # Building the check
//!
//! The multiscalar multiplication is about 60 % of the time; computing its scalars
//! is most of the rest, so that is kept to few scalar operations:
//!
//! - two passes: the first replays every transcript and queues every scalar that
//!   needs inverting (each proof's `uₖ` and `y`); one [`Scalar::batch_invert`]
//!   then inverts them all for the price of one field inversion; the second pass
//!   builds the terms that need the inverses;
//! - the coefficients of `Gᵢ` and `Hᵢ` minus the constant `∓ρz` are each a
//!   constant times one factor per set bit of `i` ([`bit_products`]): one scalar
//!   multiplication per generator and coefficient, three per index in all;
//! - the `∓ρz` on every `Gᵢ`, `Hᵢ` of a proof is one term on the precomputed point
//!   `Σ_{i<64m} (Hᵢ − Gᵢ)`;
//! - every point is decompressed once, when the transaction is decoded.
//!
//! The transcript is replayed here exactly as `bulletproofs` 5 does it (the same
//! labels and domain separators, [`crate::tx`]'s `cbdc.rangeproof.v1` as the
//! initial transcript), and the generators are derived as `bulletproofs` derives
//! them (SHAKE256 chains labelled `G`/`H` and the party index), so this accepts
//! exactly the proofs `RangeProof::verify_multiple` accepts: the differential
//! tests check both on valid and tampered proofs.
//!
//! When a batch fails, [`verify_batch`] bisects it to find the culprits, and gives
//! every transaction the same answer [`crate::verify::verify`] would: one bad
//! transaction never rejects good ones.

use crate::commitment::{pedersen_gens, RANGE_PROOF_BITS};
use crate::keys::{challenge, Purpose};
use crate::point::Point;
use crate::transcript::{TranscriptProtocol, RANGE_PROOF_DOMAIN};
use crate::tx::{
    owner_message, padded_commitments, AggregateRangeProof, Spend, Transaction, OUTPUTS_MAX,
};
use crate::verify::{precheck_spend, verify, IssuancePolicy, Rejection, StoredNote};
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use merlin::Transcript;
use rand_core::{CryptoRng, RngCore};
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::Shake256;
use std::sync::OnceLock;

/// The aggregation sizes a proof can have: `m = 2ᵏ` for `k < PARTY_SIZES`.
const PARTY_SIZES: usize = OUTPUTS_MAX.trailing_zeros() as usize + 1;

/// The `bulletproofs` generators `G`, `H` for [`OUTPUTS_MAX`] parties of 64 bits,
/// party-major (party `j`, bit `i` at `j·64 + i`), derived as `bulletproofs` does.
struct Generators {
    g: Vec<RistrettoPoint>,
    h: Vec<RistrettoPoint>,
    /// `Σ_{i<64m} (Hᵢ − Gᵢ)` at index `k` for `m = 2ᵏ`: every proof of `m` values
    /// puts `−ρz` on each of its `Gᵢ` and `+ρz` on each `Hᵢ`, which this point takes
    /// in one term.
    h_minus_g: [RistrettoPoint; PARTY_SIZES],
}

fn chain(label: u8, party: usize, count: usize) -> Vec<RistrettoPoint> {
    let mut shake = Shake256::default();
    shake.update(b"GeneratorsChain");
    let mut tag = [label, 0, 0, 0, 0];
    tag[1..].copy_from_slice(
        &u32::try_from(party)
            .expect("party index fits u32")
            .to_le_bytes(),
    );
    shake.update(&tag);
    let mut reader = shake.finalize_xof();
    (0..count)
        .map(|_| {
            let mut uniform = [0u8; 64];
            reader.read(&mut uniform);
            RistrettoPoint::from_uniform_bytes(&uniform)
        })
        .collect()
}

fn generators() -> &'static Generators {
    static GENS: OnceLock<Generators> = OnceLock::new();
    GENS.get_or_init(|| {
        let g: Vec<RistrettoPoint> = (0..OUTPUTS_MAX)
            .flat_map(|j| chain(b'G', j, RANGE_PROOF_BITS))
            .collect();
        let h: Vec<RistrettoPoint> = (0..OUTPUTS_MAX)
            .flat_map(|j| chain(b'H', j, RANGE_PROOF_BITS))
            .collect();
        let h_minus_g = std::array::from_fn(|k| {
            let nm = RANGE_PROOF_BITS << k;
            h[..nm].iter().sum::<RistrettoPoint>() - g[..nm].iter().sum::<RistrettoPoint>()
        });
        Generators { g, h, h_minus_g }
    })
}

/// The most inner-product rounds a proof can have: `log₂(64·OUTPUTS_MAX)`.
const ROUNDS_MAX: usize = (RANGE_PROOF_BITS * OUTPUTS_MAX).trailing_zeros() as usize;

/// The rounds that walk a party's 64 bits, `log₂ n`: in index `i = j·64 + bit`,
/// bit levels below this are `bit`'s, the ones above are the party `j`'s.
const BIT_LEVELS: usize = RANGE_PROOF_BITS.trailing_zeros() as usize;

/// A range proof after the first pass: its challenges replayed and the terms that
/// need no inverse already added. The rest waits for the batch's one inversion.
struct Replayed<'a> {
    proof: &'a AggregateRangeProof,
    /// `ρ`, the proof's weight in the batch.
    weight: Scalar,
    y: Scalar,
    z: Scalar,
    a: Scalar,
    b: Scalar,
    /// The inner-product challenges `u₁ … u_r` in transcript order (`r` = `rounds`).
    u: [Scalar; ROUNDS_MAX],
    rounds: usize,
    /// Where `u₁⁻¹ … u_r⁻¹, y⁻¹` sit in [`Msm::inverses`].
    inverses_at: usize,
}

/// The terms of one big check, accumulated.
struct Msm<'a> {
    scalars: Vec<Scalar>,
    points: Vec<RistrettoPoint>,
    b: Scalar,
    b_blinding: Scalar,
    g: Vec<Scalar>,
    h: Vec<Scalar>,
    /// Per aggregation size `m = 2ᵏ`, `Σ ρ·z` over the proofs of that size: the
    /// coefficient of `Σ_{i<64m} (Hᵢ − Gᵢ)` (see [`Generators::h_minus_g`]).
    h_minus_g: [Scalar; PARTY_SIZES],
    /// Range proofs replayed, waiting for their inverses.
    replayed: Vec<Replayed<'a>>,
    /// Every scalar the batch must invert, inverted all at once by
    /// [`Scalar::batch_invert`]: one field inversion for the whole batch.
    inverses: Vec<Scalar>,
}

impl<'a> Msm<'a> {
    fn new() -> Msm<'a> {
        Msm {
            scalars: Vec::new(),
            points: Vec::new(),
            b: Scalar::ZERO,
            b_blinding: Scalar::ZERO,
            g: Vec::new(),
            h: Vec::new(),
            h_minus_g: [Scalar::ZERO; PARTY_SIZES],
            replayed: Vec::new(),
            inverses: Vec::new(),
        }
    }

    fn term(&mut self, scalar: Scalar, point: RistrettoPoint) {
        self.scalars.push(scalar);
        self.points.push(point);
    }

    /// Inverts what the first pass collected, adds the terms that needed the
    /// inverses, and runs the one multiscalar multiplication.
    fn sums_to_zero(mut self) -> bool {
        // Nonzero: `add_range_proof` refuses to batch a proof with a zero challenge.
        let mut inverses = std::mem::take(&mut self.inverses);
        Scalar::batch_invert(&mut inverses);
        for proof in std::mem::take(&mut self.replayed) {
            self.inner_product_terms(&proof, &inverses);
        }

        let gens = generators();
        for (scalar, point) in self.h_minus_g.into_iter().zip(gens.h_minus_g) {
            if scalar != Scalar::ZERO {
                self.term(scalar, point);
            }
        }
        let pc = pedersen_gens();
        let used = self.g.len();
        let scalars = self
            .scalars
            .into_iter()
            .chain([self.b, self.b_blinding])
            .chain(self.g)
            .chain(self.h);
        let points = self
            .points
            .into_iter()
            .chain([pc.B, pc.B_blinding])
            .chain(gens.g[..used].iter().copied())
            .chain(gens.h[..used].iter().copied());
        RistrettoPoint::vartime_multiscalar_mul(scalars, points).is_identity()
    }

    /// Adds `ρ·(s·G − e·P − R)` for a signature over `B` (or `B̃` when `over_blinding`).
    fn signature(
        &mut self,
        weight: Scalar,
        over_blinding: bool,
        public: &Point,
        purpose: Purpose,
        message: &[u8],
        signature: &crate::keys::Signature,
    ) -> Option<()> {
        let pc = pedersen_gens();
        let generator = if over_blinding { pc.B_blinding } else { pc.B };
        let e = challenge(
            purpose,
            &generator,
            &public.compressed,
            message,
            &signature.r,
        );
        let r = signature.r_point;
        if over_blinding {
            self.b_blinding += weight * signature.s;
        } else {
            self.b += weight * signature.s;
        }
        self.term(-(weight * e), public.point);
        self.term(-weight, r);
        Some(())
    }

    /// First pass over one aggregated range proof over `commitments`: replays its
    /// transcript, adds the terms of `ρ·(mega check)` that need no inverse, and
    /// queues `u₁ … u_r, y` for the batch inversion. `None` if it cannot be batched.
    fn add_range_proof<R: RngCore + CryptoRng>(
        &mut self,
        weight: Scalar,
        proof: &'a AggregateRangeProof,
        commitments: &[CompressedRistretto],
        values: &[Option<RistrettoPoint>],
        rng: &mut R,
    ) -> Option<()> {
        let n = RANGE_PROOF_BITS;
        let m = proof.parties();
        if commitments.len() != m || values.len() != m {
            return None;
        }
        let nm = n * m;
        let bytes = proof.as_bytes();
        let chunk = |i: usize| &bytes[32 * i..32 * i + 32];
        let scalar_at = |i: usize| {
            let mut b = [0u8; 32];
            b.copy_from_slice(chunk(i));
            Scalar::from_canonical_bytes(b).into_option()
        };
        let rounds = nm.trailing_zeros() as usize;
        let (t_x, t_x_blinding, e_blinding) = (scalar_at(4)?, scalar_at(5)?, scalar_at(6)?);
        let (a, b) = (scalar_at(7 + 2 * rounds)?, scalar_at(8 + 2 * rounds)?);

        let mut t = Transcript::new(RANGE_PROOF_DOMAIN);
        t.append_message(b"dom-sep", b"rangeproof v1");
        t.append_u64(b"n", n as u64);
        t.append_u64(b"m", m as u64);
        for v in commitments {
            t.append_message(b"V", v.as_bytes());
        }
        t.append_message(b"A", chunk(0));
        t.append_message(b"S", chunk(1));
        let y = t.challenge_scalar(b"y");
        let z = t.challenge_scalar(b"z");
        t.append_message(b"T_1", chunk(2));
        t.append_message(b"T_2", chunk(3));
        let x = t.challenge_scalar(b"x");
        t.append_scalar(b"t_x", &t_x);
        t.append_scalar(b"t_x_blinding", &t_x_blinding);
        t.append_scalar(b"e_blinding", &e_blinding);
        let w = t.challenge_scalar(b"w");
        t.append_message(b"dom-sep", b"ipp v1");
        t.append_u64(b"n", nm as u64);
        let mut u = [Scalar::ZERO; ROUNDS_MAX];
        for (k, u_k) in u[..rounds].iter_mut().enumerate() {
            t.append_message(b"L", chunk(7 + 2 * k));
            t.append_message(b"R", chunk(8 + 2 * k));
            *u_k = t.challenge_scalar(b"u");
        }
        // A zero challenge (a hash hitting 0, probability 2⁻²⁵²) has no inverse and
        // would spoil the batch's shared inversion: refuse to batch the proof, so
        // `verify_batch` bisects down to `verify` for it.
        if y == Scalar::ZERO || u[..rounds].contains(&Scalar::ZERO) {
            return None;
        }
        let inverses_at = self.inverses.len();
        self.inverses.extend_from_slice(&u[..rounds]);
        self.inverses.push(y);

        let c = Scalar::random(rng);
        let zz = z * z;
        // δ(y, z) = (z − z²)·Σ_{i<nm} yⁱ − z³·Σ_{bit<n} 2^bit·Σ_{j<m} zʲ,
        // where Σ_{bit<64} 2^bit = 2⁶⁴ − 1.
        let delta = (z - zz) * sum_of_powers(&y, nm)
            - zz * z * Scalar::from(u64::MAX) * sum_of_powers(&z, m);

        // Per-proof points: A, S, T₁, T₂, V_j (L_k, R_k wait for the inverses).
        let p = &proof.points;
        let weight_c_x = weight * c * x;
        self.term(weight, p[0]);
        self.term(weight * x, p[1]);
        self.term(weight_c_x, p[2]);
        self.term(weight_c_x * x, p[3]);
        let mut weight_c_zz_z_j = weight * c * zz;
        for v in values {
            // The padding (the identity) contributes nothing.
            if let Some(point) = v {
                self.term(weight_c_zz_z_j, *point);
            }
            weight_c_zz_z_j *= z;
        }
        // Shared generators. The `−ρz` of every Gᵢ and `+ρz` of every Hᵢ, i < nm,
        // go on one precomputed point instead of 2·nm scalar additions.
        self.b_blinding += weight * (-e_blinding - c * t_x_blinding);
        self.b += weight * (w * (t_x - a * b) + c * (delta - t_x));
        self.h_minus_g[m.trailing_zeros() as usize] += weight * z;

        self.replayed.push(Replayed {
            proof,
            weight,
            y,
            z,
            a,
            b,
            u,
            rounds,
            inverses_at,
        });
        Some(())
    }

    /// Second pass over one replayed range proof, with `inverses` the inverses of
    /// what the first pass queued: adds the terms of `L_k`, `R_k`, `Gᵢ` and `Hᵢ`.
    ///
    /// With `s` the inner-product verification scalars and index `i = j·64 + bit`:
    ///
    /// ```text
    ///   Gᵢ: ρ·(−z − a·sᵢ)                                  = −ρz + γᵢ
    ///   Hᵢ: ρ·(z + y⁻ⁱ·(z²·zʲ·2^bit − b·s_{nm−1−i}))        =  ρz + pᵢ + qᵢ
    ///   γᵢ = −ρa·sᵢ,  pᵢ = ρz²·y⁻ⁱ·zʲ·2^bit,  qᵢ = −ρb·y⁻ⁱ·s_{nm−1−i}
    /// ```
    ///
    /// (`±ρz` was added in the first pass.) Each of `γ`, `p`, `q` is a constant times
    /// one factor per set bit of `i` (see [`bit_products`]), so each costs one scalar
    /// multiplication per index, three in all: scalar products are most of the work
    /// of building the check.
    fn inner_product_terms(&mut self, proof: &Replayed<'_>, inverses: &[Scalar]) {
        let r = proof.rounds;
        let nm = 1usize << r;
        let (weight, y, z) = (proof.weight, proof.y, proof.z);
        let u = &proof.u[..r];
        let u_inv = &inverses[proof.inverses_at..proof.inverses_at + r];
        let y_inv = inverses[proof.inverses_at + r];
        debug_assert_eq!(y * y_inv, Scalar::ONE);

        let mut u_sq = [Scalar::ZERO; ROUNDS_MAX];
        let mut u_inv_sq = [Scalar::ZERO; ROUNDS_MAX];
        let points = &proof.proof.points;
        for k in 0..r {
            u_sq[k] = u[k] * u[k];
            u_inv_sq[k] = u_inv[k] * u_inv[k];
            self.term(weight * u_sq[k], points[4 + 2 * k]);
            self.term(weight * u_inv_sq[k], points[5 + 2 * k]);
        }

        // sᵢ = Π_k u_k^{±1}, with u_k² more for each bit of i, round r−1−l for bit
        // level l: s₀ = Π u_k⁻¹, and s_{nm−1−i} (the bits of i flipped) starts from
        // s_{nm−1} = Π u_k with u_k⁻² per bit. y⁻ⁱ = Π_{l ∈ bits of i} y^{−2ˡ}, and
        // zʲ·2^bit·y⁻ⁱ has (2/y)^{2ˡ} for the levels of `bit`, (z·y⁻⁶⁴)^{2^{l−6}}
        // for those of `j`.
        let s_first: Scalar = u_inv.iter().product();
        let s_last: Scalar = u.iter().product();
        let mut g_factors = [Scalar::ZERO; ROUNDS_MAX];
        let mut p_factors = [Scalar::ZERO; ROUNDS_MAX];
        let mut q_factors = [Scalar::ZERO; ROUNDS_MAX];
        let mut y_inv_2_l = y_inv; // y^{−2ˡ}
        let mut two_y_inv_2_l = Scalar::from(2u64) * y_inv; // (2/y)^{2ˡ}
        let mut z_y_inv_64_2_l = Scalar::ZERO; // (z·y⁻⁶⁴)^{2^{l−6}}, set at l = 6
        for l in 0..r {
            g_factors[l] = u_sq[r - 1 - l];
            q_factors[l] = u_inv_sq[r - 1 - l] * y_inv_2_l;
            p_factors[l] = match l.cmp(&BIT_LEVELS) {
                std::cmp::Ordering::Less => two_y_inv_2_l,
                std::cmp::Ordering::Equal => {
                    z_y_inv_64_2_l = z * y_inv_2_l;
                    z_y_inv_64_2_l
                }
                std::cmp::Ordering::Greater => {
                    z_y_inv_64_2_l = z_y_inv_64_2_l * z_y_inv_64_2_l;
                    z_y_inv_64_2_l
                }
            };
            y_inv_2_l = y_inv_2_l * y_inv_2_l;
            two_y_inv_2_l = two_y_inv_2_l * two_y_inv_2_l;
        }

        if self.g.len() < nm {
            self.g.resize(nm, Scalar::ZERO);
            self.h.resize(nm, Scalar::ZERO);
        }
        let mut scratch = Vec::with_capacity(nm);
        bit_products(-(weight * proof.a) * s_first, &g_factors[..r], &mut scratch);
        for (g_i, gamma_i) in self.g.iter_mut().zip(&scratch) {
            *g_i += gamma_i;
        }
        bit_products(weight * z * z, &p_factors[..r], &mut scratch);
        for (h_i, p_i) in self.h.iter_mut().zip(&scratch) {
            *h_i += p_i;
        }
        bit_products(-(weight * proof.b) * s_last, &q_factors[..r], &mut scratch);
        for (h_i, q_i) in self.h.iter_mut().zip(&scratch) {
            *h_i += q_i;
        }
    }

    /// Adds every signature and the range proof of a spend that passed its prechecks.
    fn spend<R: RngCore + CryptoRng>(
        &mut self,
        spend: &'a Spend,
        digest: &[u8; 32],
        inputs: &[&StoredNote],
        rng: &mut R,
    ) -> Option<()> {
        self.signature(
            Scalar::random(rng),
            true,
            &spend.kernel.excess.0,
            Purpose::Kernel,
            digest,
            &spend.kernel.signature,
        )?;
        for (index, (note, signature)) in inputs.iter().zip(&spend.owner_signatures).enumerate() {
            self.signature(
                Scalar::random(rng),
                false,
                &note.owner.0,
                Purpose::Owner,
                &owner_message(digest, index),
                signature,
            )?;
        }
        if let Some(proof) = &spend.range_proof {
            let commitments: Vec<crate::Commitment> =
                spend.outputs.iter().map(|o| o.commitment).collect();
            let mut values: Vec<Option<RistrettoPoint>> =
                commitments.iter().map(|c| Some(c.point())).collect();
            values.resize(proof.parties(), None);
            self.add_range_proof(
                Scalar::random(rng),
                proof,
                &padded_commitments(&commitments),
                &values,
                rng,
            )?;
        }
        Some(())
    }
}

/// Sets `out` to `first · Π_{l : bit l of i is set} factors[l]` for `i < 2^factors.len()`,
/// one multiplication per entry: entries `2ˡ … 2^{l+1}−1` are entries `0 … 2ˡ−1`
/// times `factors[l]`.
fn bit_products(first: Scalar, factors: &[Scalar], out: &mut Vec<Scalar>) {
    out.clear();
    out.push(first);
    for factor in factors {
        for i in 0..out.len() {
            let next = out[i] * factor;
            out.push(next);
        }
    }
}

/// `1 + x + … + x^{n−1}` for `n` a power of two (as `bulletproofs::util` computes it).
fn sum_of_powers(x: &Scalar, n: usize) -> Scalar {
    if n <= 1 {
        return Scalar::from(u64::try_from(n).expect("small"));
    }
    let mut m = n;
    let mut result = Scalar::ONE + x;
    let mut factor = *x;
    while m > 2 {
        factor *= factor;
        result += factor * result;
        m /= 2;
    }
    result
}

/// Verifies aggregated range proofs together: `true` iff every proof verifies for
/// its commitments (each padded by the caller as [`crate::tx`] describes).
pub fn verify_range_proofs<R: RngCore + CryptoRng>(
    proofs: &[(&AggregateRangeProof, &[CompressedRistretto])],
    rng: &mut R,
) -> bool {
    let mut msm = Msm::new();
    for (proof, commitments) in proofs {
        let mut values = Vec::with_capacity(commitments.len());
        for v in *commitments {
            if v.as_bytes() == &[0u8; 32] {
                values.push(None);
            } else {
                match v.decompress() {
                    Some(point) => values.push(Some(point)),
                    None => return false,
                }
            }
        }
        if msm
            .add_range_proof(Scalar::random(rng), proof, commitments, &values, rng)
            .is_none()
        {
            return false;
        }
    }
    msm.sums_to_zero()
}

/// Verifies many transactions, each against the stored state of its inputs, and
/// returns for each exactly what [`verify`] returns. The cheap checks (structure,
/// state, balance) run one by one; the proofs and signatures of all transactions
/// that pass them are checked in one multiscalar multiplication, and a failing
/// batch is bisected so only the bad transactions are rejected.
pub fn verify_batch<R: RngCore + CryptoRng>(
    items: &[(&Transaction, &[Option<StoredNote>])],
    policy: &IssuancePolicy,
    rng: &mut R,
) -> Vec<Result<(), Rejection>> {
    verify_batch_report(items, policy, rng).results
}

/// A spend that passed its prechecks: (index, spend, digest, stored inputs).
type Pending<'a> = (usize, &'a Spend, [u8; 32], Vec<&'a StoredNote>);

/// What [`verify_batch_report`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// For each transaction, what [`verify`] returns.
    pub results: Vec<Result<(), Rejection>>,
    /// Multiscalar multiplications run (1 when the whole batch is good).
    pub multiscalar_checks: usize,
    /// Transactions verified one by one (bad ones, isolated by bisection, and issues).
    pub single_checks: usize,
}

/// [`verify_batch`], also saying how much work it took.
pub fn verify_batch_report<R: RngCore + CryptoRng>(
    items: &[(&Transaction, &[Option<StoredNote>])],
    policy: &IssuancePolicy,
    rng: &mut R,
) -> BatchReport {
    let mut multiscalar_checks = 0;
    let mut single_checks = 0;
    let mut results: Vec<Result<(), Rejection>> = Vec::with_capacity(items.len());
    let mut pending: Vec<Pending<'_>> = Vec::new();
    for (i, (tx, inputs)) in items.iter().enumerate() {
        match tx {
            Transaction::Issue(_) | Transaction::Governance(_) => {
                single_checks += 1;
                results.push(verify(tx, inputs, policy))
            }
            Transaction::Transfer(spend) | Transaction::Redeem(spend) => {
                match tx.check_structure().and_then(|()| {
                    assert_eq!(inputs.len(), spend.inputs.len(), "inputs are not aligned");
                    precheck_spend(spend, inputs)
                }) {
                    Ok(stored) => {
                        results.push(Ok(()));
                        pending.push((i, spend, tx.digest(), stored));
                    }
                    Err(rejection) => results.push(Err(rejection)),
                }
            }
        }
    }
    let mut stack: Vec<&[Pending<'_>]> = vec![&pending];
    while let Some(group) = stack.pop() {
        if group.is_empty() {
            continue;
        }
        if group.len() == 1 {
            let (i, _, _, _) = &group[0];
            let (tx, inputs) = items[*i];
            results[*i] = verify(tx, inputs, policy);
            single_checks += 1;
            continue;
        }
        multiscalar_checks += 1;
        let mut msm = Msm::new();
        let complete = group
            .iter()
            .all(|(_, spend, digest, stored)| msm.spend(spend, digest, stored, rng).is_some());
        if complete && msm.sums_to_zero() {
            continue;
        }
        let (left, right) = group.split_at(group.len() / 2);
        stack.push(left);
        stack.push(right);
    }
    BatchReport {
        results,
        multiscalar_checks,
        single_checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_match_bulletproofs() {
        let ours = generators();
        let theirs = crate::commitment::bulletproof_gens();
        for j in 0..OUTPUTS_MAX {
            let g: Vec<RistrettoPoint> = theirs.share(j).G(RANGE_PROOF_BITS).copied().collect();
            assert_eq!(
                &ours.g[j * RANGE_PROOF_BITS..(j + 1) * RANGE_PROOF_BITS],
                &g[..]
            );
        }
        // `bulletproofs` keeps `H` private: the differential tests check it. Here,
        // that each aggregation size's span covers exactly its `64·m` generators.
        for (k, span) in ours.h_minus_g.iter().enumerate() {
            let nm = RANGE_PROOF_BITS << k;
            let h: RistrettoPoint = ours.h[..nm].iter().sum();
            let g: RistrettoPoint = (0..1 << k)
                .flat_map(|j| theirs.share(j).G(RANGE_PROOF_BITS))
                .sum();
            assert_eq!(*span, h - g, "m = {}", 1 << k);
        }
    }

    #[test]
    fn bit_products_multiply_one_factor_per_set_bit() {
        let factors: Vec<Scalar> = (0..ROUNDS_MAX)
            .map(|l| Scalar::from(3u64 + u64::try_from(l).expect("small")))
            .collect();
        let first = Scalar::from(7u64);
        let mut out = Vec::new();
        for levels in 0..=ROUNDS_MAX {
            bit_products(first, &factors[..levels], &mut out);
            assert_eq!(out.len(), 1 << levels);
            for (i, product) in out.iter().enumerate() {
                let expected: Scalar = (0..levels)
                    .filter(|l| i >> l & 1 == 1)
                    .map(|l| factors[l])
                    .product::<Scalar>()
                    * first;
                assert_eq!(*product, expected, "levels {levels}, index {i}");
            }
        }
    }
}
