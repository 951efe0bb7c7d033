"""Every command line of the two original READMEs (RUM's and the capstone's), as data: the line as
the README prints it, the placeholders it has filled for digits and tiny sizes, and what it must
write (a glob under the folder the commands run in). `setup` lines are not in the READMEs: they
make what a README line reads and the README leaves to the reader (scores, SimCLR, generators).
tests/test_readme_replay.py runs them in order in one folder; README.md shows them side by side."""

# RUM's placeholders, filled for digits ({dataset name}, {model architecture}, sizes and strengths);
# its sizes (3,000 examples, 5-30 epochs) shrink to digits-sized ones
RUM_FILL = {"{dataset name}": "digits", "{model architecture}": "mlp", "{epochs}": "1",
            "{epochs for training the original model}": "1", "{learning_rate}": "0.1",
            "{batch_size}": "256", "${unlearn method}": "GA", "{memorization group}": "high",
            "{memorization proxy}": "heldout", "${alpha}": "0.99", "${beta}": "0.001", "${gamma}": "0.99",
            "${saliency_map_path}": "masks/high", "3000": "30", "--unlearn_epochs 30": "--unlearn_epochs 2",
            "--unlearn_epochs 10": "--unlearn_epochs 2", "--unlearn_epochs 5": "--unlearn_epochs 2"}

RUM = [
    ("python main_train.py --dataset {dataset name} --arch {model architecture} --epochs {epochs} "
     "--lr {learning_rate} --batch_size {batch_size}", "runs/digits/original/metrics.json"),
    ("setup: python -m memorization estimate --num_models 4 --epochs 1 --arch tinymlp",
     "runs/digits/memorization/heldout.npz"),
    ("python main_rum.py --unlearn ${unlearn method} --mem mix --num_indexes_to_replace 3000 --dataset "
     "{dataset name} --arch {model architecture} --epochs {epochs for training the original model} --lr 0.1 "
     "--batch_size 256", "runs/digits/unlearn/rumf-GA-*/mem-mix_heldout_n30/s2/metrics.json"),
    ("python main_forget.py --unlearn retrain --num_indexes_to_replace 3000 --unlearn_epochs 30 --unlearn_lr 0.1 "
     "--mem {memorization group} --group_index {ES group}", "runs/digits/unlearn/retrain-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python main_forget.py --unlearn FT --num_indexes_to_replace 3000 --unlearn_lr 0.01 --unlearn_epochs 10 "
     "--mem {memorization group} --group_index {ES group}", "runs/digits/unlearn/FT-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python main_forget.py --unlearn FT_prune --num_indexes_to_replace 3000 --alpha ${alpha} --unlearn_lr 0.01 "
     "--unlearn_epochs 10 --mem {memorization group} --group_index {ES group}",
     "runs/digits/unlearn/l1-sparse-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python main_forget.py --unlearn GA --num_indexes_to_replace 3000 --unlearn_lr 0.0001 --unlearn_epochs 5 "
     "--mem {memorization group} --group_index {ES group}", "runs/digits/unlearn/GA-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python main_forget.py --unlearn NG --num_indexes_to_replace 3000 --alpha ${alpha} --unlearn_lr 0.01 "
     "--unlearn_epochs 5 --mem {memorization group} --group_index {ES group}",
     "runs/digits/unlearn/NG-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python main_forget.py --unlearn SCRUB --num_indexes_to_replace 3000 --msteps 4 --kd_T 4.0 --beta ${beta} "
     "--gamma ${gamma} --unlearn_lr 5e-3 --unlearn_epochs 5 --mem {memorization group} --group_index {ES group}",
     "runs/digits/unlearn/SCRUB-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python main_forget.py --unlearn wfisher --num_indexes_to_replace 3000 --alpha ${alpha} "
     "--mem {memorization group} --group_index {ES group}", "runs/digits/unlearn/wfisher-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python generate_mask.py --save ${saliency_map_path} --num_indexes_to_replace 3000 --unlearn_epochs 1 "
     "--mem {memorization group} --group_index {ES group}", "masks/high/masks.json"),
    ("python main_random.py --unlearn RL --unlearn_lr 0.1 --unlearn_epochs 10 --num_indexes_to_replace 3000 "
     "--path ${saliency_map_path} --mem {memorization group} --group_index {ES group}",
     "runs/digits/unlearn/RL-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python main_random.py --unlearn RL_og --unlearn_lr 0.1 --unlearn_epochs 10 --num_indexes_to_replace 3000 "
     "--mem {memorization group} --group_index {ES group}", "runs/digits/unlearn/RL-*/mem-high_heldout_n30/s2/metrics.json"),
    ("python analysis.py --dataset {dataset name} --arch {model architecture} --no_aug --unlearn ${unlearn method} "
     "--mem_proxy {memorization proxy} --mem {memorization group} --num_indexes_to_replace 3000",
     "runs/digits/analysis/results.*.csv"),
    ("python analysis_mia.py --dataset {dataset name} --arch {model architecture} --no_aug --unlearn "
     "${unlearn method} --mem_proxy {memorization proxy} --mem {memorization group} --num_indexes_to_replace 3000",
     "runs/digits/analysis/results_mia.*.csv"),
]

# the README says: --mem for memorization experiments, --group_index for ES experiments; a line
# with both runs once for each (ES here for the two cheapest methods)
ES_TWINS = ("--unlearn FT ", "--unlearn GA ")
ES_GROUP = "14"

# The capstone's README: its lines run as printed on a digits run folder at mu/saved_data (its
# default --saved_data_path); random-mode lines get a tiny --forget_num (the default, 5000, is more
# than digits has)
CAPSTONE_SETUP = [  # after a trained digits run is copied to mu/saved_data (test_readme_replay.py)
    ("setup: python simclr.py --save_dir mu/saved_data --epochs 1", "mu/saved_data/simclr/model.json"),
    ("setup: python -m unlearn.augment train --kind arpl --save_dir mu/saved_data --num_indexes_to_replace 60 "
     "--epochs 1 --warmup_steps 5", "mu/saved_data/augment/arpl/random_n60_s2/generator.json"),
    ("setup: python -m unlearn.augment train --kind opengan --save_dir mu/saved_data --num_indexes_to_replace 60 "
     "--epochs 2", "mu/saved_data/augment/opengan/random_n60_s2/generator.json"),
]
CAPSTONE_RANDOM_SIZE = "--forget_num 60"
CAPSTONE_FILL = {"--augment_num 3000": "--augment_num 300",  # digits-sized, as RUM's 3000 -> 30
                 "--epoches 2": "--epoches 1"}
CAPSTONE = [
    ("python mu_main.py --method retrain --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0", "mu/saved_data/unlearn/retrain-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method neggrad --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0", "mu/saved_data/unlearn/GA-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method salUN --mode random --saved_data_path mu/saved_data --lr 0.0013 --epoches 2",
     "mu/saved_data/unlearn/SalUn-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method bad_teaching --mode random --saved_data_path mu/saved_data --lr 0.005 "
     "--epoches 2 --loss_weight 0", "mu/saved_data/unlearn/bad-teaching-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method bad_teaching --mode class_wise --lr 0.001 --epoches 1 --loss_weight 0",
     "mu/saved_data/unlearn/bad-teaching-*/class0_all/s2/metrics.json"),
    ("python mu_main.py --method scrub --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0", "mu/saved_data/unlearn/SCRUB-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method scrub --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0.5", "mu/saved_data/unlearn/SCRUB-ssl-simple-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method scrub --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0.5 --supervised_mode original",
     "mu/saved_data/unlearn/SCRUB-ssl-contrastive-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method scrub --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0 --data_augment aplr --augment_num 3000",
     "mu/saved_data/unlearn/SCRUB-aug-arpl-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method scrub --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0 --data_augment opengan", "mu/saved_data/unlearn/SCRUB-aug-opengan-*/random_n60_s2/s2/metrics.json"),
    ("python mu_main.py --method scrub --mode random --saved_data_path mu/saved_data --lr 0.005 --epoches 2 "
     "--loss_weight 0 --data_augment simple", "mu/saved_data/unlearn/SCRUB-aug-simple-*/random_n60_s2/s2/metrics.json"),
]


def fill(line, mapping):
    for placeholder, value in mapping.items():
        line = line.replace(placeholder, value)
    return line


def rum_commands():
    """(README line, argv) in order; a line with both --mem and --group_index keeps --mem, and its
    ES twin (FT, GA) keeps --group_index instead."""
    out = []
    for line, writes in RUM:
        filled = fill(line, RUM_FILL)
        mem, es = filled.replace(" --group_index {ES group}", ""), None
        if "{ES group}" in filled and any(t in filled for t in ES_TWINS):
            es = filled.replace(" --mem high", "").replace("{ES group}", ES_GROUP)
        out.append((line, mem, writes))
        if es:
            out.append((line, es, writes.replace("mem-high_heldout_n30", f"es-g{ES_GROUP}_n30")))
    return out


def capstone_commands():
    out = [(line, line, writes) for line, writes in CAPSTONE_SETUP]
    for line, writes in CAPSTONE:
        run = fill(line, CAPSTONE_FILL) + (f" {CAPSTONE_RANDOM_SIZE}" if "--mode random" in line else "")
        out.append((line, run, writes))
    return out
