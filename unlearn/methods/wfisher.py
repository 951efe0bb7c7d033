"""`wfisher`: influence unlearning with a WoodFisher inverse-Hessian-vector product, as in RUM and
SalUn (docs/reference.md). One Newton-like step, no training epochs."""
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from engine.errors import UserError
from engine.train import check_finite_weights
from unlearn import Range, UnlearnData, register

# per-example gradients are materialised as [chunk, P]; keep a chunk under ~512 MB of float32
CHUNK_FLOATS = 1 << 27


def trainable(model):
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def summed_gradient(model, tset, batch_size):
    """Sum over the set of the per-example CE gradients, flattened (= batch mean x batch size,
    summed over batches). Model in eval mode, so the sum is exact."""
    params = [p for _, p in trainable(model)]
    total = torch.zeros(sum(p.numel() for p in params), device=params[0].device)
    for x, y in tset.batches(batch_size):
        grads = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), params,
                                    allow_unused=True)
        total += torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                            for g, p in zip(grads, params)])
    return total


def per_example_gradients(model, x, y):
    """[len(x), P] flattened CE gradients, one row per example, in one vectorised call.
    BatchNorm must be in eval mode: it then uses its running statistics, so an example's
    gradient does not depend on its batch mates and no buffer is written under vmap."""
    named = trainable(model)
    params = {n: p.detach() for n, p in named}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def loss(p, xi, yi):
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g[n].reshape(len(x), -1) for n, _ in named], 1)


def woodfisher_ihvp(model, retain, v, samples, batch_size):
    """k ~ H^-1 v by RUM/SalUn's WoodFisher recursion over the first `samples` retain examples
    (ascending position order), with N = `samples` as the damping constant:
    o = g_0; then for each later g_j: tau = o.g_j, k -= (k.g_j)/(N+tau) o, o -= tau/(N+tau) o.
    RUM runs examples 0..N+1; here exactly N (docs/deviations.md)."""
    n = min(samples, len(retain))
    P = v.numel()
    chunk = max(1, min(batch_size, CHUNK_FLOATS // max(P, 1)))
    k, o = v.clone(), None
    for x, y in retain.subset(torch.arange(n)).batches(chunk):
        for g in per_example_gradients(model, x, y):
            if o is None:
                o = g.clone()
                continue
            tau = torch.dot(o, g)
            k -= (torch.dot(k, g) / (samples + tau)) * o
            o -= (tau / (samples + tau)) * o
    return k


@register("wfisher", "IU", defaults={"alpha": 0.2, "wf_samples": 1000},
          checks={"alpha": Range(), "wf_samples": Range(1, integer=True)}, loop=False,
          summary="one influence step with a WoodFisher inverse-Hessian estimate")
def wfisher(model, data: UnlearnData, cfg):
    """theta <- theta + alpha * k (times the --mask_path mask when given), where k approximates
    H^-1 v and v = g_F/(n_F+n_R) - g_R n_F/((n_F+n_R) n_R) from summed gradients."""
    was_training = model.training
    model.eval()
    n_f, n_r = len(data.forget), len(data.retain)
    if not n_f or not n_r:
        raise UserError(f"wfisher needs non-empty forget and retain sets (got {n_f} and {n_r})")
    g_f = summed_gradient(model, data.forget, cfg.batch_size)
    g_r = summed_gradient(model, data.retain, cfg.batch_size)
    v = g_f / (n_f + n_r) - g_r * n_f / ((n_f + n_r) * n_r)
    k = woodfisher_ihvp(model, data.retain, v, cfg.wf_samples, cfg.batch_size)
    mask = data.mask
    with torch.no_grad():
        start = 0
        for name, p in trainable(model):
            step = k[start:start + p.numel()].view_as(p)
            start += p.numel()
            if mask is not None and name in mask:
                step = step * mask[name].to(step.device, step.dtype)
            p.add_(step, alpha=cfg.alpha)
    model.train(was_training)
    check_finite_weights(model, "wfisher")
    return model
