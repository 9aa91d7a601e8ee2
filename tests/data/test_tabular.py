"""The CSV helper: d2l's house-price preprocessing, fitted on train and reused on test."""
import numpy as np
import pandas as pd
import pytest

import zerograd as zg
from zerograd.datasets import TabularPreprocessor, load_csv

TRAIN = pd.DataFrame({
    "Id": [1, 2, 3, 4, 5, 6],
    "LotArea": [8450.0, 9600.0, np.nan, 9550.0, 14260.0, 14115.0],
    "Rooms": [3, 4, 3, 5, 2, 3],
    "Zone": ["RL", "RM", "RL", np.nan, "FV", "RL"],
    "Paved": [True, False, True, True, False, True],
    "SalePrice": [208500, 181500, 223500, 140000, 250000, 143000],
})
TEST = pd.DataFrame({
    "Id": [7, 8, 9],
    "LotArea": [10000.0, np.nan, 7000.0],
    "Rooms": [4, 3, 1],
    "Zone": ["RM", "C (all)", np.nan],  # "C (all)" never appears in training
    "Paved": [False, True, True],
})


@pytest.fixture
def files(tmp_path):
    TRAIN.to_csv(tmp_path / "train.csv", index=False)
    TEST.to_csv(tmp_path / "test.csv", index=False)
    return tmp_path / "train.csv", tmp_path / "test.csv"


def test_train_features_follow_the_d2l_recipe(files):
    train = load_csv(files[0], target="SalePrice", drop=["Id"])
    pre = train.preprocessor
    assert pre.numeric_columns == ["LotArea", "Rooms", "Paved"]  # d2l: non-object is numeric
    assert pre.categorical_columns == ["Zone"]
    assert train.feature_names == ["LotArea", "Rooms", "Paved", "Zone_FV", "Zone_RL", "Zone_RM",
                                   "Zone_nan"]
    x = train.features.numpy()
    assert train.features.dtype == zg.float32 and x.shape == (6, 7)
    # numeric: standardized with pandas' mean/std (ddof=1); missing -> the mean -> 0
    lot = TRAIN["LotArea"]
    expected_lot = ((lot - lot.mean()) / lot.std()).fillna(0).to_numpy()
    np.testing.assert_allclose(x[:, 0], expected_lot, rtol=1e-6, atol=1e-6)
    for i, name in ((1, "Rooms"), (2, "Paved")):
        col = TRAIN[name].astype(float)
        np.testing.assert_allclose(x[:, i], (col - col.mean()) / col.std(), rtol=1e-6)
    # categorical: exactly pd.get_dummies(dummy_na=True)
    dummies = pd.get_dummies(TRAIN[["Zone"]], dummy_na=True, dtype=float)
    np.testing.assert_array_equal(x[:, 3:], dummies.to_numpy(dtype=np.float32))
    y = train.target
    assert y.dtype == zg.float32 and tuple(y.shape) == (6, 1)
    np.testing.assert_array_equal(y.numpy()[:, 0], TRAIN["SalePrice"].to_numpy(np.float32))


def test_test_file_gets_the_same_columns_and_statistics(files):
    train = load_csv(files[0], target="SalePrice", drop=["Id"], log_target=True)
    test = load_csv(files[1], preprocessor=train.preprocessor)
    assert test.target is None and test.feature_names == train.feature_names
    x = test.features.numpy()
    assert x.shape == (3, 7)
    lot = TRAIN["LotArea"]
    np.testing.assert_allclose(x[:, 0], [(10000 - lot.mean()) / lot.std(), 0.0,
                                         (7000 - lot.mean()) / lot.std()], rtol=1e-6)
    names = train.feature_names
    zone = x[:, names.index("Zone_FV"):names.index("Zone_nan") + 1]
    # RM is known; the unseen "C (all)" and the missing value both land in Zone_nan
    np.testing.assert_array_equal(zone, [[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
    np.testing.assert_allclose(train.target.numpy()[:, 0], np.log(TRAIN["SalePrice"]),
                               rtol=1e-6)
    np.testing.assert_allclose(train.preprocessor.inverse_target(train.target).numpy()[:, 0],
                               TRAIN["SalePrice"], rtol=1e-5)
    assert test.frame["Id"].tolist() == [7, 8, 9]  # ids kept for a submission file


def test_to_dataset_and_loader(files):
    train = load_csv(files[0], target="SalePrice", drop=["Id"])
    ds = train.to_dataset()
    x, y = next(iter(zg.utils.data.DataLoader(ds, batch_size=4)))
    assert tuple(x.shape) == (4, 7) and tuple(y.shape) == (4, 1)
    with pytest.raises(ValueError, match="no target column"):
        load_csv(files[1], preprocessor=train.preprocessor).to_dataset()


def test_without_standardization_missing_values_get_the_mean(files):
    train = load_csv(files[0], target="SalePrice", drop=["Id"], standardize=False,
                     categorical=["Rooms"])
    x = train.features.numpy()
    assert train.preprocessor.numeric_columns == ["LotArea", "Paved"]
    np.testing.assert_allclose(x[:, 0], TRAIN["LotArea"].fillna(TRAIN["LotArea"].mean()))
    assert "Rooms_5" in train.feature_names


def test_errors(files, tmp_path):
    with pytest.raises(FileNotFoundError, match="CSV file not found: .*nope.csv"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=r"target column 'Price' is not in .*train.csv; "
                                         r"available columns: \['Id', 'LotArea', 'Rooms', "
                                         r"'Zone', 'Paved', 'SalePrice'\]"):
        load_csv(files[0], target="Price")
    pre = TabularPreprocessor(target="SalePrice").fit(TRAIN)
    with pytest.raises(ValueError, match=r"columns \['Zone'\] were present when fitting"):
        pre.transform(TEST.drop(columns=["Zone"]))
    with pytest.raises(RuntimeError, match="before fit"):
        TabularPreprocessor().transform(TRAIN)
    with pytest.raises(ValueError, match="log_target=True needs a positive target"):
        TabularPreprocessor(target="Rooms", log_target=True).fit_transform(
            TRAIN.assign(Rooms=[0, 1, 2, 3, 4, 5]))


def test_a_mostly_numeric_column_with_a_stray_value_is_refused_with_its_row(tmp_path):
    """Issue 12.7: such a column was one-hot encoded (x1_1.0, x1_3, x1_abc) without a word."""
    from zerograd.datasets.tabular import MixedColumnError
    path = tmp_path / "t.csv"
    path.write_text("x1,x2,y\n1.0,a,1\n3,b,2\nabc,a,3\n4,b,4\n5,a,5\n")
    with pytest.raises(MixedColumnError, match=r"column 'x1' holds numbers, but its value in "
                                               r"data row 3 is 'abc'; correct it"):
        load_csv(path, target="y")
    path.write_text("x1,x2,y\n1.0,a,1\n3,b,2\n,a,3\n4,b,4\n5,a,5\n")  # a gap is just missing
    data = load_csv(path, target="y")
    assert data.preprocessor.numeric_columns == ["x1"] and data.feature_names[0] == "x1"
    # a column that is mostly text stays categorical, numbers among it included
    mixed = pd.DataFrame({"grade": ["A", "B", "3", "A"], "y": [1.0, 2.0, 3.0, 4.0]})
    assert TabularPreprocessor(target="y").fit(mixed).categorical_columns == ["grade"]


def test_stray_and_infinite_values_at_transform_time_name_their_row():
    pre = TabularPreprocessor(target="SalePrice").fit(TRAIN)
    with pytest.raises(ValueError, match=r"'LotArea' holds numbers, but its value in data row "
                                         r"2 is '9x'"):
        pre.transform(TEST.assign(LotArea=["10", "9x", None]))
    with pytest.raises(ValueError, match=r"'Rooms' holds numbers, but its value in data row 1 "
                                         r"is inf"):
        pre.transform(TEST.assign(Rooms=[np.inf, 3, 1]))
    np.testing.assert_allclose(pre.transform(TEST.assign(LotArea=["10000", None, "7000"]))[0]
                               .numpy(), pre.transform(TEST)[0].numpy())
