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
//!     + Σᵢ (−z − a·sᵢ)·Gᵢ + Σᵢ (z + y⁻ⁱ·(z²·zⱼ·2ᵏ − b·s⁻¹ᵢ))·Hᵢ + Σⱼ c·z²·zʲ·Vⱼ  = 0
//! ```
//!
//! where `x, y, z, w, uᵢ` are Fiat–Shamir challenges from the proof's transcript
//! and `c` is the verifier's random scalar. A Schnorr signature `(R, s)` on
//! public key `P` over generator `G` is the check `s·G − e·P − R = 0`.
//!
//! For a batch, each check `k` is multiplied by an independent random weight
//! `ρₖ` and all are summed: `Σ ρₖ·checkₖ = 0`. If any check is non-zero the sum is
//! non-zero except with probability about 2⁻²⁵² over the weights. The generators
//! `B, B̃, Gᵢ, Hᵢ` are shared, so their coefficients add up and the batch costs one
//! multiscalar multiplication over `2 + 2·64·m_max` shared points plus each proof's
//! own `4 + 2·log₂(64·m) + m` points and each signature's two.
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

/// The `bulletproofs` generators `G`, `H` for [`OUTPUTS_MAX`] parties of 64 bits,
/// party-major (party `j`, bit `i` at `j·64 + i`), derived as `bulletproofs` does.
struct Generators {
    g: Vec<RistrettoPoint>,
    h: Vec<RistrettoPoint>,
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
    GENS.get_or_init(|| Generators {
        g: (0..OUTPUTS_MAX)
            .flat_map(|j| chain(b'G', j, RANGE_PROOF_BITS))
            .collect(),
        h: (0..OUTPUTS_MAX)
            .flat_map(|j| chain(b'H', j, RANGE_PROOF_BITS))
            .collect(),
    })
}

/// The terms of one big check, accumulated.
struct Msm {
    scalars: Vec<Scalar>,
    points: Vec<RistrettoPoint>,
    b: Scalar,
    b_blinding: Scalar,
    g: Vec<Scalar>,
    h: Vec<Scalar>,
}

impl Msm {
    fn new() -> Msm {
        Msm {
            scalars: Vec::new(),
            points: Vec::new(),
            b: Scalar::ZERO,
            b_blinding: Scalar::ZERO,
            g: Vec::new(),
            h: Vec::new(),
        }
    }

    fn term(&mut self, scalar: Scalar, point: RistrettoPoint) {
        self.scalars.push(scalar);
        self.points.push(point);
    }

    fn sums_to_zero(self) -> bool {
        let gens = generators();
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

    /// Adds `ρ·(mega check)` of one aggregated range proof over `commitments`.
    fn range_proof<R: RngCore + CryptoRng>(
        &mut self,
        weight: Scalar,
        proof: &AggregateRangeProof,
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
        let mut u = Vec::with_capacity(rounds);
        for k in 0..rounds {
            t.append_message(b"L", chunk(7 + 2 * k));
            t.append_message(b"R", chunk(8 + 2 * k));
            u.push(t.challenge_scalar(b"u"));
        }
        // One inversion for the u's and y together (Montgomery's trick).
        let mut u_inv = u.clone();
        u_inv.push(y);
        let all_inv = Scalar::batch_invert(&mut u_inv) * y;
        let y_inv = u_inv.pop().expect("y was pushed");
        let u_sq: Vec<Scalar> = u.iter().map(|u| u * u).collect();
        let u_inv_sq: Vec<Scalar> = u_inv.iter().map(|u| u * u).collect();
        // s_i = Π u_j^{±1}, built inductively as bulletproofs does.
        let mut s = Vec::with_capacity(nm);
        s.push(all_inv);
        for i in 1..nm {
            let lg_i = usize::try_from(usize::BITS - 1 - i.leading_zeros()).expect("small");
            let k = 1 << lg_i;
            s.push(s[i - k] * u_sq[(rounds - 1) - lg_i]);
        }

        let c = Scalar::random(rng);
        let zz = z * z;
        let delta = {
            let sum_y = sum_of_powers(&y, nm);
            let sum_2 = sum_of_powers(&Scalar::from(2u64), n);
            let sum_z = sum_of_powers(&z, m);
            (z - zz) * sum_y - zz * z * sum_2 * sum_z
        };

        // Per-proof points: A, S, T1, T2, L_k, R_k, V_j.
        let p = &proof.points;
        self.term(weight, p[0]);
        self.term(weight * x, p[1]);
        self.term(weight * c * x, p[2]);
        self.term(weight * c * x * x, p[3]);
        for k in 0..rounds {
            self.term(weight * u_sq[k], p[4 + 2 * k]);
            self.term(weight * u_inv_sq[k], p[5 + 2 * k]);
        }
        let mut weight_c_zz_z_j = weight * c * zz;
        for v in values {
            // The padding (the identity) contributes nothing.
            if let Some(point) = v {
                self.term(weight_c_zz_z_j, *point);
            }
            weight_c_zz_z_j *= z;
        }
        // Shared generators.
        self.b_blinding += weight * (-e_blinding - c * t_x_blinding);
        self.b += weight * (w * (t_x - a * b) + c * (delta - t_x));
        if self.g.len() < nm {
            self.g.resize(nm, Scalar::ZERO);
            self.h.resize(nm, Scalar::ZERO);
        }
        // Per generator index i = j·64 + bit, with ρ the weight:
        //   G_i: ρ·(−z − a·s_i)                       = −ρz + (−ρa)·s_i
        //   H_i: ρ·(z + y^{−i}·(z²·z^j·2^bit − b·s_{nm−1−i}))
        //      = ρz + (ρ·y^{−i})·(k_i − b·s_{nm−1−i}),  k_i = z²·z^j·2^bit by doubling
        // Four multiplications per index: scalar products dominate building the check.
        let weight_z = weight * z;
        let minus_weight_z = -weight_z;
        let minus_weight_a = -(weight * a);
        let mut weight_y_inv_i = weight;
        let mut zz_z_j = zz;
        for j in 0..m {
            let mut k = zz_z_j;
            for bit in 0..n {
                let i = j * n + bit;
                self.g[i] += minus_weight_z + minus_weight_a * s[i];
                self.h[i] += weight_z + weight_y_inv_i * (k - b * s[nm - 1 - i]);
                weight_y_inv_i *= y_inv;
                k += k;
            }
            zz_z_j *= z;
        }
        Some(())
    }

    /// Adds every signature and the range proof of a spend that passed its prechecks.
    fn spend<R: RngCore + CryptoRng>(
        &mut self,
        spend: &Spend,
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
            self.range_proof(
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
            .range_proof(Scalar::random(rng), proof, commitments, &values, rng)
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
            Transaction::Issue(_) => {
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
    }
}
